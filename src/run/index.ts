export type { BindMount, NetworkMode, OverlaySpec, ProcessSpec, RunIo, RunNeeds, RunResult, Runner, RunnerKind } from './process-spec.js';
export { RUNNER_KINDS } from './process-spec.js';
export { findHostTools, type HostTools } from './host-tools.js';
export type { RunnerOptions } from './step-env.js';
export { UsernsRunner, type IdRange, type UsernsOptions } from './userns-runner.js';
export { ChrootRunner, type ChrootOptions } from './chroot-runner.js';
export { ProotRunner, type ProotOptions } from './proot-runner.js';
export { probeHost, type Check, type HostProbe, type ProbeInput } from './probe.js';
export { assessRunners, createRunner, selectRunner, type Assessment, type Isolation, type Selection } from './select-runner.js';
