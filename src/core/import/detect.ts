/**
 * Chooses the importer for a plan document: Task Master's `tasks.json` for `.json` files (or text
 * that is a JSON object when the name has no markdown extension), the markdown importer otherwise.
 * Pure: the caller reads the file and passes its text.
 */
import type { ImportedPlan } from './importedPlan';
import { importMarkdownPlan } from './markdownPlan';
import { importTaskMaster } from './taskMaster';

const MARKDOWN_EXTENSIONS = /\.(md|markdown|mdown|mkd|mdx|txt)$/i;

/** Imports `text`, read from `fileName` (a path or a name; only its extension and content are used to choose). */
export function importPlan(text: string, fileName: string): ImportedPlan {
  if (/\.json$/i.test(fileName)) return importTaskMaster(text, fileName);
  if (!MARKDOWN_EXTENSIONS.test(fileName) && looksLikeJsonObject(text)) return importTaskMaster(text, fileName);
  return importMarkdownPlan(text, fileName);
}

function looksLikeJsonObject(text: string): boolean {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return false;
  try {
    JSON.parse(trimmed);
    return true;
  } catch {
    return false;
  }
}
