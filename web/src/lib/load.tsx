// One section's own data: loading (with progress in words), the problem in words, and paged lists
// that keep their cursor. Each section of the 360 and of the Team screen loads independently, so
// one slow or failing route never blanks the others.
import { useCallback, useEffect, useState, type ReactNode } from "react";

import { ProblemBanner } from "./fields";
import { useMessages } from "./i18n";
import { shellMessages } from "./messages";
import { problemOf, type Problem } from "./problem";

export interface Loaded<T> {
  data: T | null;
  problem: Problem | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Runs `load` when `key` changes (and on reload); a later answer replaces an earlier one. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  // `load` is recreated on each render; `key` says when what it asks for has changed.
  const run = useCallback(load, [key]);
  useEffect(() => {
    let live = true;
    setLoading(true);
    run()
      .then((d) => {
        if (!live) return;
        setData(d);
        setProblem(null);
      })
      .catch((err) => live && setProblem(problemOf(err)))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [run, round]);
  const reload = useCallback(async () => setRound((r) => r + 1), []);
  return { data, problem, loading, reload };
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

/** A cursor-paged list: the first page on `key`, then "more" appends the next one. */
export function usePaged<T>(fetchPage: (cursor?: string) => Promise<Page<T>>, key: string) {
  const first = useLoad(() => fetchPage(undefined), key);
  const [extra, setExtra] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState<{ loading: boolean; problem: Problem | null }>({ loading: false, problem: null });
  useEffect(() => {
    setExtra([]);
    setCursor(first.data?.next_cursor ?? null);
  }, [first.data]);
  const loadMore = useCallback(async () => {
    if (!cursor) return;
    setMore({ loading: true, problem: null });
    try {
      const page = await fetchPage(cursor);
      setExtra((items) => [...items, ...page.items]);
      setCursor(page.next_cursor ?? null);
      setMore({ loading: false, problem: null });
    } catch (err) {
      setMore({ loading: false, problem: problemOf(err) });
    }
  }, [cursor, key]);
  const items = first.data ? [...first.data.items, ...extra] : [];
  return {
    items, loading: first.loading || more.loading, problem: first.problem ?? more.problem, hasMore: !!cursor,
    loadMore, reload: first.reload, loaded: first.data !== null,
  };
}

/** Every page of a cursor-paged list (for pickers: all users, all org units). */
export async function allPages<T>(fetchPage: (cursor?: string) => Promise<Page<T>>, max = 20): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < max; i++) {
    const page = await fetchPage(cursor);
    out.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return out;
}

/** A titled card that says it is loading, shows its problem in words, and then its content. */
export function Section({ id, title, loading, problem, empty, emptyText, onRetry, children }: {
  id: string;
  title: string;
  loading: boolean;
  problem: Problem | null;
  empty?: boolean;
  emptyText?: string;
  onRetry?: () => void;
  children?: ReactNode;
}) {
  const m = useMessages(shellMessages);
  const titleId = `${id}-title`;
  return (
    <section className="card" aria-labelledby={titleId} aria-busy={loading} data-testid={id}>
      <h2 id={titleId}>{title}</h2>
      {loading && <p role="status" className="muted"><progress aria-label={m.loading} /> {m.loading}</p>}
      {problem && (
        <>
          <ProblemBanner problem={problem} />
          {onRetry && <button type="button" onClick={onRetry}>{m.retry}</button>}
        </>
      )}
      {!problem && empty && !loading && <p className="muted">{emptyText}</p>}
      {children}
    </section>
  );
}

/** A "load more" button for a paged list, named by what it loads. */
export function MoreButton({ hasMore, loading, onMore, label }: {
  hasMore: boolean;
  loading: boolean;
  onMore: () => void;
  label: string;
}) {
  if (!hasMore) return null;
  return <button type="button" disabled={loading} onClick={onMore}>{label}</button>;
}
