// Greppable text log of trace records, one line each, in the spirit of QEMU's "log"
// trace backend (name key=value ...):
//   <time_ns> <initiator> <kind> sid=0x.. ssid=.. iova=0x.. pa=0x.. size=.. value=0x.. aux=0x..
// A StreamID or SubstreamID that does not apply prints as '-'. Given a describer (the
// TUI's one-line decoder, as `svasoc --log` passes it), each line ends with ` | ` and the
// record read in words: register and field names, commands, events, faults.

import { TRACE_KIND_NAMES, type TraceDescriber, type TraceRecord } from './record.js';
import { NO_SID } from './ring.js';
import { anyRecord, select, type TraceFilter } from './filter.js';
import type { TraceRing } from './ring.js';

export function formatTraceLine(r: TraceRecord, describe?: TraceDescriber): string {
  const sid = r.sid === NO_SID ? '-' : `0x${r.sid.toString(16)}`;
  const ssid = r.ssid < 0 ? '-' : `0x${r.ssid.toString(16)}`;
  const kind = TRACE_KIND_NAMES[r.kind] ?? `kind${r.kind}`;
  return `${r.timeNs} ${r.initiator} ${kind} sid=${sid} ssid=${ssid} iova=0x${r.iova.toString(16)} pa=0x${r.pa.toString(16)} size=${r.size} value=0x${r.value.toString(16)} aux=0x${r.aux.toString(16)}${describe === undefined ? '' : ` | ${describe(r)}`}`;
}

/** The lines of `records`, lazily. */
export function* textLines(records: Iterable<TraceRecord>, describe?: TraceDescriber): IterableIterator<string> {
  for (const r of records) yield formatTraceLine(r, describe);
}

/** The ring (or the records passing `filter`) as text, one line per record, newline-terminated. */
export function exportText(ring: TraceRing, filter: TraceFilter = anyRecord, describe?: TraceDescriber): string {
  let out = '';
  for (const line of textLines(select(ring, filter), describe)) out += `${line}\n`;
  return out;
}
