/** Which language a notebook runs: its live kernel's, and the one its metadata declares. */
import type { NotebookPanel } from '@jupyterlab/notebook';

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
