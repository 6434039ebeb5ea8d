/**
 * The notebook's kernel: which language it runs (its live kernel's, and the one its metadata
 * declares), and running SMLT's own code in it without touching the notebook.
 */
import type { NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage, type Kernel } from '@jupyterlab/services';

/** The language of the notebook's running kernel, lower case; undefined without one (or no answer). */
export async function kernelLanguage(panel: NotebookPanel): Promise<string | undefined> {
  try {
    return (await panel.sessionContext.session?.kernel?.info)?.language_info.name.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The language the notebook's metadata names (kernelspec, else language_info), lower case. */
export function declaredLanguage(panel: NotebookPanel): string | undefined {
  const metadata = panel.content.model?.metadata ?? {};
  const language = (metadata.kernelspec as { language?: unknown } | undefined)?.language ?? (metadata.language_info as { name?: unknown } | undefined)?.name;
  return typeof language === 'string' ? language.toLowerCase() : undefined;
}

/** Code that raised in the kernel (or was not run): `ename: evalue`, or the reply's status. */
export class KernelCodeError extends Error {}

/**
 * Runs `code` in the kernel with no history and no cell output; resolves with its stdout, or
 * rejects with a KernelCodeError. A request the kernel aborted (queued behind a cell that failed,
 * so it never ran) is asked again.
 */
export async function runInKernel(kernel: Kernel.IKernelConnection, code: string, retries = 2): Promise<string> {
  const future = kernel.requestExecute({ code, silent: false, store_history: false, stop_on_error: true }, true);
  let out = '';
  let failure: string | undefined;
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    if (KernelMessage.isStreamMsg(msg) && msg.content.name === 'stdout') out += msg.content.text;
    if (KernelMessage.isErrorMsg(msg)) failure = `${msg.content.ename}: ${msg.content.evalue}`;
  };
  const reply = await future.done;
  if (reply.content.status === 'aborted' && retries > 0) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    return runInKernel(kernel, code, retries - 1);
  }
  if (failure || reply.content.status !== 'ok') throw new KernelCodeError(failure ?? reply.content.status);
  return out;
}
