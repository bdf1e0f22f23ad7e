/** Linux signal names as moby's signal.ParseSignal knows them (without the SIG prefix). */
const LINUX_SIGNALS: ReadonlySet<string> = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL',
  'PROF', 'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'UNUSED', 'URG',
  'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ', 'RTMIN', 'RTMAX',
]);

/** `SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`, `RTMAX-2`: what STOPSIGNAL accepts. */
export function isValidSignal(text: string): boolean {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n > 0 && n <= 64;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const rt = /^RT(MIN|MAX)([+-])(\d+)$/.exec(name);
  if (rt) return Number(rt[3]) <= 15;
  return LINUX_SIGNALS.has(name);
}
