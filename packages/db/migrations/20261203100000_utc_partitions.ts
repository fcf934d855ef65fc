import type { Knex } from 'knex';

/*
 * Partition bounds in UTC whatever the session's TimeZone. The first version
 * added `interval '1 month'` to a timestamptz, which PostgreSQL does in the
 * session's time zone: on a server set to Europe/Berlin the March partition
 * ended at 2026-03-31T23:00Z, and the loop, stepping in Berlin time, named its
 * next month after March again, skipped it, and made "2026_04" for April 30 to
 * May 31: April had no partition at all. Here the month arithmetic runs on UTC
 * wall-clock time (timestamp without time zone) and the bounds are written
 * with an explicit +00 offset.
 *
 * The function also refuses a range of more than 120 months: one call once
 * asked for the months up to a year-9999 date and ran the server out of shared
 * memory (every new partition holds its locks until the transaction ends).
 *
 * Partitions made by the old function on a server whose TimeZone is not UTC
 * keep their bounds (repairing them means moving rows); on a UTC server the
 * old function made exactly these bounds.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function ensure_quote_snapshot_partitions(from_ts timestamptz, to_ts timestamptz)
    returns integer language plpgsql as $$
    declare
      month_start timestamp := date_trunc('month', from_ts at time zone 'UTC');
      last_month timestamp := date_trunc('month', to_ts at time zone 'UTC');
      partition_name text;
      created integer := 0;
    begin
      if last_month >= month_start + interval '120 months' then
        raise exception 'refusing to create the monthly partitions from % to %: more than 120 months at once', from_ts, to_ts;
      end if;
      while month_start <= last_month loop
        partition_name := format('quote_snapshots_%s', to_char(month_start, 'YYYY_MM'));
        if to_regclass(partition_name) is null then
          execute format(
            'create table %I partition of quote_snapshots for values from (%L) to (%L)',
            partition_name,
            to_char(month_start, 'YYYY-MM-DD HH24:MI:SS') || '+00',
            to_char(month_start + interval '1 month', 'YYYY-MM-DD HH24:MI:SS') || '+00');
          created := created + 1;
        end if;
        month_start := month_start + interval '1 month';
      end loop;
      return created;
    end $$;
  `);
}

/** Restores the first version, session-TimeZone arithmetic and all. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function ensure_quote_snapshot_partitions(from_ts timestamptz, to_ts timestamptz)
    returns integer language plpgsql as $$
    declare
      month_start timestamptz := date_trunc('month', from_ts at time zone 'UTC') at time zone 'UTC';
      partition_name text;
      created integer := 0;
    begin
      while month_start <= to_ts loop
        partition_name := format('quote_snapshots_%s', to_char(month_start at time zone 'UTC', 'YYYY_MM'));
        if to_regclass(partition_name) is null then
          execute format(
            'create table %I partition of quote_snapshots for values from (%L) to (%L)',
            partition_name, month_start, month_start + interval '1 month');
          created := created + 1;
        end if;
        month_start := month_start + interval '1 month';
      end loop;
      return created;
    end $$;
  `);
}
