// printk (kernel/printk/printk.c): records go into the log buffer with a virtual
// timestamp and to every registered console. Lines look like Linux's:
// "[    0.000123] message". dmesg reads the buffer back.

import { thisCpu } from '../../arch/index.js';

export const KERN_EMERG = 0;
export const KERN_ALERT = 1;
export const KERN_CRIT = 2;
export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_NOTICE = 5;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;

export interface PrintkRecord {
  readonly seq: number;
  readonly tsNs: number;
  readonly level: number;
  readonly text: string;
}

/** struct console: something that prints log lines (the UART driver). */
export interface Console {
  readonly name: string;
  write(text: string): void;
}

/** Log buffer size in records (log_buf_len analogue). */
const LOG_BUF_RECORDS = 8192;

let logBuf: PrintkRecord[] = [];
let seq = 0;
let consoles: Console[] = [];
/** console_loglevel: records below it reach the consoles (default 7 as with "loglevel=7"). */
let consoleLoglevel = 7;
let clockSource: (() => number) | undefined;
/** Whole console output since boot (what a test reads as "the console"). */
let earlyBuffer = '';

export function printk_init(): void {
  logBuf = [];
  seq = 0;
  consoles = [];
  consoleLoglevel = 7;
  clockSource = undefined;
  earlyBuffer = '';
}

/** Uses `fn` (ktime_get) for timestamps once the clock source is up. */
export function printk_set_clock(fn: () => number): void {
  clockSource = fn;
}

export function set_console_loglevel(level: number): void {
  consoleLoglevel = level;
}

function now(): number {
  if (clockSource !== undefined) return clockSource();
  try {
    return thisCpu().now();
  } catch {
    return 0;
  }
}

/** "[    1.234567] " for a time in ns. */
export function format_timestamp(ns: number): string {
  const us = Math.floor(ns / 1000);
  const sec = Math.floor(us / 1_000_000);
  const frac = us % 1_000_000;
  return `[${String(sec).padStart(5, ' ')}.${String(frac).padStart(6, '0')}] `;
}

/** register_console: replays the log buffer to the new console (CON_PRINTBUFFER). */
export function register_console(con: Console): void {
  consoles.push(con);
  if (earlyBuffer.length > 0) con.write(earlyBuffer);
}

export function unregister_console(con: Console): void {
  consoles = consoles.filter((c) => c !== con);
}

/** printk at a level; multi-line text becomes one record per line. */
export function printk_level(level: number, text: string): void {
  const ts = now();
  for (const line of text.split('\n')) {
    const rec: PrintkRecord = { seq: seq++, tsNs: ts, level, text: line };
    logBuf.push(rec);
    if (logBuf.length > LOG_BUF_RECORDS) logBuf.shift();
    if (level < consoleLoglevel) {
      const out = format_timestamp(ts) + line + '\n';
      earlyBuffer += out;
      for (const c of consoles) c.write(out);
    }
  }
}

export function printk(text: string): void {
  printk_level(KERN_INFO, text);
}

export function pr_info(text: string): void {
  printk_level(KERN_INFO, text);
}

export function pr_notice(text: string): void {
  printk_level(KERN_NOTICE, text);
}

export function pr_warn(text: string): void {
  printk_level(KERN_WARNING, text);
}

export function pr_err(text: string): void {
  printk_level(KERN_ERR, text);
}

export function pr_debug(text: string): void {
  printk_level(KERN_DEBUG, text);
}

/** Writes straight to the consoles without a timestamp (user writes to /dev/console). */
export function console_write(text: string): void {
  earlyBuffer += text;
  for (const c of consoles) c.write(text);
}

/** The log buffer as dmesg prints it. */
export function dmesg_text(): string {
  return logBuf.map((r) => format_timestamp(r.tsNs) + r.text + '\n').join('');
}

export function log_records(): readonly PrintkRecord[] {
  return logBuf;
}

/** Everything the consoles received since boot. */
export function console_output(): string {
  return earlyBuffer;
}
