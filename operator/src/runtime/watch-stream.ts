// One watch request as a promise: resolves 'closed' (server ended it), 'timeout' (client-node's 30 s
// idle timer fired: resume from the last resourceVersion) or 'gone' (410: relist); rejects on any other
// failure, on a non-410 ERROR event, on a "very short watch" (closed within 1 s without events, which
// client-go also treats as an error so a misbehaving server cannot make us spin), or when signal aborts.

import type { Watch } from '@kubernetes/client-node';
import { RuntimeError } from './errors.ts';

export type WatchOutcome = 'closed' | 'timeout' | 'gone';

export interface WatchStreamHooks {
  now: () => number;
  /** Applies one event; returns 'gone' for 410, an error for other ERROR events. */
  onEvent: (type: string, obj: unknown) => 'gone' | RuntimeError | undefined;
  /** HTTP 200 received: the stream is live. */
  onConnected: () => void;
}

export function watchStream(watch: Watch, path: string, query: Record<string, string>, signal: AbortSignal, hooks: WatchStreamHooks): Promise<WatchOutcome> {
  const startedAt = hooks.now();
  let events = 0;
  let gone = false;
  let eventError: RuntimeError | undefined;
  return new Promise<WatchOutcome>((resolve, reject) => {
    let settled = false;
    let failed = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        signal.removeEventListener('abort', onAbort);
        fn();
      }
    };
    const onAbort = () => {
      void request.then((c) => c.abort()).catch(() => undefined);
      settle(() => reject(signal.reason instanceof Error ? signal.reason : new RuntimeError('TIMEOUT', 'watch aborted')));
    };
    const request = watch.watch(
      path,
      query,
      (type: string, obj: unknown) => {
        if (settled) return;
        events++;
        const ev = hooks.onEvent(type, obj);
        if (ev === 'gone') gone = true;
        else if (ev instanceof RuntimeError) eventError = ev;
      },
      (err: unknown) => {
        if (err) failed = true;
        const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
        if (err && name === 'TimeoutError') settle(() => resolve('timeout'));
        else if (err) settle(() => reject(err));
        else if (gone) settle(() => resolve('gone'));
        else if (eventError) settle(() => reject(eventError));
        else if (events === 0 && hooks.now() - startedAt < 1000) settle(() => reject(new RuntimeError('API_ERROR', 'very short watch: closed within 1 s without events')));
        else settle(() => resolve('closed'));
      },
    );
    void request.then(
      (c) => {
        if (settled) c.abort();
        else if (!failed) hooks.onConnected();
      },
      (err: unknown) => settle(() => reject(err)),
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
