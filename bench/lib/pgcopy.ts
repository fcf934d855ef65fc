import type pg from 'pg';

/**
 * `COPY ... FROM STDIN` over an open node-postgres client, without
 * pg-copy-streams (not installed): a Submittable that answers the server's
 * CopyInResponse with the given bytes. The floor of bulk loading, in process,
 * on the same kind of connection the fetcher uses.
 */

/** The parts of pg's Connection a COPY needs (pg has them; @types/pg does not declare the copy ones). */
interface CopyConnection extends pg.Connection {
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

const CHUNK = 64 * 1024;

class CopyIn implements pg.Submittable {
  private rows = 0;
  private settled = false;

  constructor(
    private readonly sql: string,
    private readonly data: Buffer,
    private readonly done: (error: Error | undefined, rows: number) => void,
  ) {}

  submit(connection: pg.Connection): void {
    connection.query(this.sql);
  }

  handleCopyInResponse(connection: pg.Connection): void {
    const copy = connection as CopyConnection;
    for (let at = 0; at < this.data.length; at += CHUNK) copy.sendCopyFromChunk(this.data.subarray(at, at + CHUNK));
    copy.endCopyFrom();
  }

  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)$/.exec(message.text ?? '');
    this.rows = match ? Number(match[1]) : 0;
  }

  handleReadyForQuery(): void {
    this.settle(undefined);
  }

  handleError(error: Error): void {
    this.settle(error);
  }

  // Not expected for COPY FROM; pg calls them only on other statements.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  private settle(error: Error | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.done(error, this.rows);
  }
}

/** Runs `sql` (a `COPY ... FROM STDIN`) with `data` in COPY's text format; resolves with the row count. */
export function copyFrom(client: pg.ClientBase, sql: string, data: string | Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    client.query(new CopyIn(sql, typeof data === 'string' ? Buffer.from(data) : data, (error, rows) => (error ? reject(error) : resolve(rows))));
  });
}

/** One value in COPY's text format: \N for null, backslash escapes for the characters that matter. */
function copyValue(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return String(value);
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Rows in COPY's text format (tab-separated, one row a line). */
export function copyText(rows: readonly (readonly (string | number | Date | null | undefined)[])[]): string {
  let text = '';
  for (const row of rows) text += `${row.map(copyValue).join('\t')}\n`;
  return text;
}
