/**
 * The output pane: xterm.js (VS Code's own terminal renderer: ANSI colours,
 * virtualised rows, bounded scrollback) showing the lines held by the page,
 * filtered by node, phase and status, with line numbers, timestamps, search
 * with highlighting, and follow-tail. Lines reach it already cleaned of every
 * escape but SGR colours (src/vscode/monitor/lines.ts); names are cleaned again here.
 */
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { Terminal } from '@xterm/xterm';
import type { ITheme } from '@xterm/xterm';
import type { OutputLine } from '../src/vscode/monitor/protocol';
import { t } from './l10n';

/** Lines the page holds (all nodes); the full log has everything. */
export const MAX_PAGE_LINES = 100_000;
/** Lines the terminal holds: what scrolling back reaches without opening the full log. */
export const SCROLLBACK = 10_000;

export interface OutputFilter {
  /** Undefined: every node, merged with a prefix. */
  node?: string;
  phase?: number;
  /** Lines of nodes in this status (in the line's phase) only. */
  matchesStatus: (phase: number, node: string) => boolean;
  lineNumbers: boolean;
  timestamps: boolean;
}

const PREFIX_COLOURS = [36, 35, 33, 34, 32, 96, 95, 93, 94, 92];
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

function colourOf(node: string): number {
  let h = 0;
  for (let i = 0; i < node.length; i++) h = (h * 31 + node.charCodeAt(i)) | 0;
  return PREFIX_COLOURS[Math.abs(h) % PREFIX_COLOURS.length];
}

function time(ms: number | undefined): string {
  if (ms === undefined) return '            ';
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export class OutputPane {
  readonly term: Terminal;
  private readonly fit = new FitAddon();
  private readonly search = new SearchAddon({ highlightLimit: 2000 });
  private lines: OutputLine[] = [];
  private filter: OutputFilter = { matchesStatus: () => true, lineNumbers: true, timestamps: false };
  private prefixWidth = 8;
  private writing = 0;
  private query = '';
  /** Lines shown in the terminal right now (for the count, and the benchmark). */
  shown = 0;
  received = 0;
  follow = true;
  onFollowChange: (follow: boolean) => void = () => undefined;
  onSearchResults: (index: number, count: number) => void = () => undefined;

  constructor(private readonly host: HTMLElement) {
    this.term = new Terminal({
      scrollback: SCROLLBACK,
      convertEol: true,
      disableStdin: true,
      allowProposedApi: true,
      cursorBlink: false,
      cursorStyle: 'bar',
      cursorInactiveStyle: 'none',
      fontFamily: 'var(--vscode-editor-font-family), monospace',
      fontSize: 12,
      // OSC 8 links are stripped before they get here; should one slip through, it does nothing.
      linkHandler: { activate: () => undefined, allowNonHttpProtocols: false },
      theme: themeFromCss(),
    });
    this.term.options.fontFamily = getComputedStyle(document.body).getPropertyValue('--vscode-editor-font-family').trim() || 'monospace';
    this.term.loadAddon(this.fit);
    this.term.loadAddon(this.search);
    this.term.open(host);
    this.search.onDidChangeResults((r) => this.onSearchResults(r.resultIndex, r.resultCount));
    new ResizeObserver(() => this.resize()).observe(host);
    // Scrolling up stops following; scrolling back to the bottom resumes it.
    this.term.onScroll(() => this.checkFollow());
    host.addEventListener('wheel', () => requestAnimationFrame(() => this.checkFollow()), { passive: true });
    host.addEventListener('keydown', (e) => this.key(e));
    this.resize();
  }

  private resize(): void {
    if (!this.host.offsetParent) return;
    try {
      this.fit.fit();
    } catch {
      // not laid out yet
    }
  }

  private checkFollow(): void {
    const b = this.term.buffer.active;
    const atBottom = b.viewportY >= b.baseY;
    if (this.writing && !atBottom && this.follow) return; // a write in progress, not the user
    if (atBottom !== this.follow) {
      this.follow = atBottom;
      this.onFollowChange(atBottom);
    }
  }

  setFollow(on: boolean): void {
    this.follow = on;
    if (on) this.term.scrollToBottom();
  }

  private key(e: KeyboardEvent): void {
    const actions: Record<string, () => void> = {
      PageUp: () => this.term.scrollPages(-1),
      PageDown: () => this.term.scrollPages(1),
      Home: () => this.term.scrollToTop(),
      End: () => this.term.scrollToBottom(),
      ArrowUp: () => this.term.scrollLines(-1),
      ArrowDown: () => this.term.scrollLines(1),
    };
    const act = actions[e.key];
    if (!act || e.altKey || e.metaKey) return;
    e.preventDefault();
    act();
    requestAnimationFrame(() => this.checkFollow());
  }

  setTheme(): void {
    this.term.options.theme = themeFromCss();
  }

  /** Whether every write handed to the terminal has been parsed. */
  get idle(): boolean {
    return this.writing === 0;
  }

  private matches(l: OutputLine): boolean {
    const f = this.filter;
    return (f.node === undefined || l.node === f.node) && (f.phase === undefined || l.phase === f.phase) && f.matchesStatus(l.phase, l.node);
  }

  private format(l: OutputLine): string {
    const f = this.filter;
    let s = '';
    if (f.lineNumbers) s += `\x1b[2m${String(l.no).padStart(6)}\x1b[22m `;
    if (f.timestamps) s += `\x1b[2m${time(l.t)}\x1b[22m `;
    if (f.node === undefined) {
      const name = l.node.replace(CONTROLS, '');
      s += `\x1b[${colourOf(l.node)}m${name.length > this.prefixWidth ? name.slice(0, this.prefixWidth - 1) + '…' : name.padEnd(this.prefixWidth)}\x1b[39m │ `;
    }
    return `${s}${l.text}\x1b[0m\r\n`;
  }

  private write(text: string): void {
    if (!text) return;
    this.writing++;
    this.term.write(text, () => {
      this.writing--;
      if (this.follow) this.term.scrollToBottom();
    });
  }

  /** New lines: held, and shown when they pass the filter. */
  append(lines: OutputLine[]): void {
    if (!lines.length) return;
    this.received += lines.length;
    for (const l of lines) this.lines.push(l);
    if (this.lines.length > MAX_PAGE_LINES * 1.2) this.lines.splice(0, this.lines.length - MAX_PAGE_LINES);
    const shown = lines.filter((l) => this.matches(l));
    // More than the terminal keeps: only the last SCROLLBACK lines matter.
    const tail = shown.length > SCROLLBACK ? shown.slice(-SCROLLBACK) : shown;
    this.shown += tail.length;
    let out = '';
    for (const l of tail) out += this.format(l);
    this.write(out);
  }

  /** Drops the lines of a node that starts over (a retry) and draws again. */
  dropNodes(keys: Set<string>): void {
    this.lines = this.lines.filter((l) => !keys.has(`${l.phase}/${l.node}`));
    this.redraw();
  }

  /** Everything again, with a new filter (or the same one after a change of statuses). */
  setFilter(filter: OutputFilter, nodes: string[]): void {
    this.filter = filter;
    this.prefixWidth = Math.min(24, Math.max(6, ...nodes.map((n) => n.length)));
    this.redraw();
  }

  redraw(): void {
    const shown = this.lines.filter((l) => this.matches(l)).slice(-SCROLLBACK);
    this.term.reset();
    this.shown = shown.length;
    let out = '';
    for (const l of shown) out += this.format(l);
    if (!shown.length) out = `\x1b[2m${t('No output to show yet.')}\x1b[22m\r\n`;
    this.write(out);
    if (this.query) this.find(this.query, true);
  }

  /** The lines that pass the filter, as plain text (what Copy takes without a selection). */
  visibleText(): string {
    const selection = this.term.getSelection();
    if (selection) return selection;
    return this.lines
      .filter((l) => this.matches(l))
      .map((l) => `${this.filter.node === undefined ? `${l.node} | ` : ''}${l.text.replace(/\x1b\[[\d;:]*m/g, '')}`)
      .join('\n');
  }

  find(query: string, fromTop = false, previous = false): void {
    this.query = query;
    if (!query) {
      this.search.clearDecorations();
      this.onSearchResults(-1, 0);
      return;
    }
    const css = getComputedStyle(document.body);
    const options = {
      caseSensitive: false,
      incremental: fromTop,
      decorations: {
        matchBackground: hex(css.getPropertyValue('--vscode-editor-findMatchHighlightBackground')) ?? '#623315',
        matchOverviewRuler: hex(css.getPropertyValue('--vscode-editorOverviewRuler-findMatchForeground')) ?? '#d18616',
        activeMatchBackground: hex(css.getPropertyValue('--vscode-editor-findMatchBackground')) ?? '#515c6a',
        activeMatchColorOverviewRuler: hex(css.getPropertyValue('--vscode-editorOverviewRuler-findMatchForeground')) ?? '#d18616',
        activeMatchBorder: hex(css.getPropertyValue('--vscode-editor-findMatchBorder')) ?? '#ffffff',
      },
    };
    if (previous) this.search.findPrevious(query, options);
    else this.search.findNext(query, options);
    this.follow = false;
    this.onFollowChange(false);
  }
}

/** #RRGGBB from a CSS colour (#rgb, #rrggbb, #rrggbbaa, rgb(a)()); xterm's decorations take nothing else. */
export function hex(css: string): string | undefined {
  const c = css.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(c);
  if (m) return `#${[...m[1]].map((x) => x + x).join('')}`;
  m = /^#([0-9a-f]{6})(?:[0-9a-f]{2})?$/i.exec(c);
  if (m) return `#${m[1]}`;
  const r = /^rgba?\((\d+)[, ]+(\d+)[, ]+(\d+)/i.exec(c);
  if (r) return `#${[r[1], r[2], r[3]].map((x) => Number(x).toString(16).padStart(2, '0')).join('')}`;
  return undefined;
}

function themeFromCss(): ITheme {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback?: string) => css.getPropertyValue(`--vscode-${name}`).trim() || fallback;
  const ansi = ['Black', 'Red', 'Green', 'Yellow', 'Blue', 'Magenta', 'Cyan', 'White'];
  const theme: ITheme = {
    background: v('terminal-background', v('panel-background', v('editor-background'))),
    foreground: v('terminal-foreground', v('editor-foreground')),
    selectionBackground: v('terminal-selectionBackground', v('editor-selectionBackground')),
    cursor: v('terminal-background', v('editor-background')),
  };
  for (const name of ansi) {
    (theme as Record<string, string | undefined>)[name.toLowerCase()] = v(`terminal-ansi${name}`);
    (theme as Record<string, string | undefined>)[`bright${name}`] = v(`terminal-ansiBright${name}`);
  }
  return theme;
}
