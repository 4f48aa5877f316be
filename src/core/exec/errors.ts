/** Remote exec failures that carry the sentence the user reads. */
import type { NodeExecResult } from './rexecSpec';

export class RemoteExecSpecError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join(' '));
    this.name = 'RemoteExecSpecError';
  }
}

/** Consul answered, but not in a way that lets the job start. */
export class RemoteExecSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteExecSetupError';
  }
}

function nameList(names: readonly string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/**
 * No target acknowledged the job. An agent with remote exec disabled — the
 * default since Consul 0.8 — drops the `_rexec` event with only a log line,
 * so silence is all there is to go on.
 */
export class RemoteExecUnavailableError extends Error {
  constructor(
    readonly targets: readonly string[],
    readonly ackGraceMs: number,
    /** Every target, 'lost'. */
    readonly results: NodeExecResult[],
    /** Nodes outside the targets that did answer: the filters and targets disagree. */
    readonly answeredBy: readonly string[],
  ) {
    super(
      `None of the ${targets.length} target node(s) (${nameList(targets)}) acknowledged the remote exec job within ${ackGraceMs / 1000} s. ` +
        'Remote exec is probably disabled on their agents: it needs `disable_remote_exec = false` in each agent\'s configuration, then a restart' +
        ' (with ACLs, the agent token also needs write access to keys under "_rexec/"). If those agents are down, their health checks will say so.' +
        (answeredBy.length ? ` Other nodes did answer (${nameList(answeredBy)}): check that the targets match the filters.` : ''),
    );
    this.name = 'RemoteExecUnavailableError';
  }
}
