/**
 * Ctrl-C handling for long jobs: the first SIGINT asks the job to stop at the next safe point (after the
 * current step, with a checkpoint saved); a second one exits at once. Checkpoints are written atomically,
 * so even then nothing saved is lost.
 */
export function onInterrupt(log: (line: string) => void): { requested: () => boolean; dispose: () => void } {
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1)
      log('\ninterrupt: finishing this step and saving a checkpoint (Ctrl-C again to quit now)');
    else process.exit(130);
  };
  process.on('SIGINT', handler);
  return { requested: () => count > 0, dispose: () => process.off('SIGINT', handler) };
}
