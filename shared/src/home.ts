// The SMLT home folder: the run index, smlt serve's token file, what this machine has measured.
import { homedir } from 'node:os';
import { join } from 'node:path';

export const smltHome = (): string => process.env.SMLT_HOME ?? join(homedir(), '.smlt');
