/**
 * The run monitor page: header, phases, node × phase grid, output. It holds
 * only what the extension sends (init, then one batch per animation frame
 * that it pulls) and asks the extension for every action. Every name and
 * every byte of output is untrusted: text goes in through textContent and the
 * terminal, never as markup.
 */
import type { NodeRun, PhaseRun, RunSnapshot } from '../src/core/runs/model';
import type { ChefCell, FromPage, MonitorAction, MonitorViewState, ToPage } from '../src/vscode/monitor/protocol';
import { outputKey } from '../src/vscode/monitor/protocol';
import { setBundle, t } from './l10n';
import { OutputPane } from './output';

interface VsCodeApi {
  postMessage(message: FromPage): void;
  getState(): MonitorViewState | undefined;
  setState(state: MonitorViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const FINISHED = ['success', 'error', 'timeout', 'cancelled', 'interrupted'];
const FAILED_NODE = ['error', 'timeout', 'lost'];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: { class?: string; text?: string; attrs?: Record<string, string> } = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.class) e.className = props.class;
  if (props.text !== undefined) e.textContent = props.text;
  for (const [k, v] of Object.entries(props.attrs ?? {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function duration(ms: number | undefined): string {
  if (ms === undefined || ms < 0 || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function button(label: string, onClick: () => void, opts: { appearance?: string; aria?: string; id?: string } = {}): HTMLElement {
  const b = el('vscode-button' as 'button', { text: label, attrs: { appearance: opts.appearance ?? 'secondary', 'aria-label': opts.aria ?? label, ...(opts.id ? { id: opts.id } : {}) } });
  b.addEventListener('click', onClick);
  return b;
}

export class MonitorApp {
  private run: RunSnapshot | undefined;
  private source: 'live' | 'history' = 'live';
  private trusted = false;
  private averageMs: number | undefined;
  private readonly chef = new Map<string, ChefCell>();
  private cut = new Set<string>();
  private state: MonitorViewState;
  private output!: OutputPane;
  private readonly header = el('header', { class: 'header' });
  private readonly phases = el('section', { class: 'phases', attrs: { 'aria-label': 'Phases' } });
  private readonly grid = el('section', { class: 'grid', attrs: { 'aria-label': 'Nodes by phase' } });
  private readonly toolbar = el('div', { class: 'toolbar', attrs: { role: 'toolbar', 'aria-label': 'Output' } });
  private readonly status = el('div', { class: 'status', attrs: { role: 'status', 'aria-live': 'polite' } });
  private readonly notice = el('div', { class: 'notice', attrs: { role: 'alert' } });
  private readonly terminalHost = el('div', { class: 'output-host', attrs: { tabindex: '0', role: 'log', 'aria-label': 'Run output' } });
  private searchCount = el('span', { class: 'search-count', attrs: { 'aria-live': 'polite' } });
  private elapsedTimer: number | undefined;
  private focusedCell: string | undefined;

  constructor(private readonly root: HTMLElement) {
    const id = document.body.dataset.runId ?? '';
    const saved = vscode.getState();
    this.state = saved?.id === id ? saved : { id, lineNumbers: true, timestamps: false, follow: true };
    root.append(this.header, this.notice, this.phases, this.grid, this.toolbar, this.status, this.terminalHost);
    this.output = new OutputPane(this.terminalHost);
    this.output.onFollowChange = (on) => {
      this.state.follow = on;
      this.save();
      const box = document.getElementById('follow') as (HTMLElement & { checked: boolean }) | null;
      if (box && box.checked !== on) box.checked = on;
    };
    this.output.onSearchResults = (i, n) => (this.searchCount.textContent = n ? t('{0} of {1}', i + 1, n) : this.query() ? t('No results') : '');
    new MutationObserver(() => this.output.setTheme()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
    window.addEventListener('message', (e: MessageEvent<ToPage>) => this.receive(e.data));
    vscode.postMessage({ type: 'ready', state: this.state });
  }

  private save(): void {
    vscode.setState(this.state);
    vscode.postMessage({ type: 'state', state: this.state });
  }

  private act(action: MonitorAction): void {
    vscode.postMessage({ type: 'action', action });
  }

  private receive(m: ToPage): void {
    switch (m.type) {
      case 'init':
        setBundle(m.l10n);
        this.run = m.run;
        this.source = m.source;
        this.trusted = m.trusted;
        this.averageMs = m.averageMs;
        this.cut = new Set(m.cut);
        for (const c of m.chef) this.chef.set(outputKey(c.phase, c.node), c);
        if (m.restored?.id === this.state.id && !vscode.getState()) this.state = { ...this.state, ...m.restored };
        this.renderRun();
        this.renderToolbar();
        this.applyFilter();
        this.output.append(m.lines);
        this.updateStatus();
        this.pull();
        break;
      case 'batch': {
        if (m.reset?.length) {
          for (const k of m.reset) this.cut.delete(k);
          this.output.dropNodes(new Set(m.reset));
        }
        for (const c of m.chef ?? []) this.chef.set(outputKey(c.phase, c.node), c);
        if (m.averageMs !== undefined) this.averageMs = m.averageMs;
        const nodesBefore = this.nodeNames().join('\n');
        const statusesBefore = this.statusSignature();
        if (m.run) this.run = m.run;
        if (m.run || m.chef?.length || m.averageMs !== undefined) this.renderRun();
        // A new node, or (with a status filter) a status change, moves what the filters let through.
        if (m.run && (this.nodeNames().join('\n') !== nodesBefore || (this.state.status && this.statusSignature() !== statusesBefore))) {
          this.renderToolbar();
          this.applyFilter();
        }
        this.output.append(m.lines);
        this.updateStatus();
        this.pull();
        break;
      }
      case 'error':
        this.notice.textContent = m.message;
        break;
    }
  }

  /** Asks for the next batch once the terminal has drawn this one, at the next animation frame. */
  private pull(): void {
    const ask = () => {
      if (!this.output.idle) {
        setTimeout(() => requestAnimationFrame(ask), 0);
        return;
      }
      vscode.postMessage({ type: 'frame' });
    };
    requestAnimationFrame(ask);
  }

  private nodeNames(): string[] {
    const names = new Set<string>();
    for (const p of this.run?.phases ?? []) for (const n of p.nodes) names.add(n.node);
    return [...names];
  }

  private statusSignature(): string {
    return (this.run?.phases ?? []).map((p) => p.nodes.map((n) => n.status).join(',')).join(';');
  }

  private nodeOf(phase: number, node: string): NodeRun | undefined {
    return this.run?.phases.find((p) => p.no === phase)?.nodes.find((n) => n.node === node);
  }

  private statusMatches = (phase: number, node: string): boolean => {
    const want = this.state.status;
    if (!want) return true;
    const status = this.nodeOf(phase, node)?.status;
    return want === 'failed' ? !!status && FAILED_NODE.includes(status) : status === want;
  };

  // ---------------------------------------------------------------- header, phases, grid

  private renderRun(): void {
    const run = this.run;
    if (!run) return;
    document.title = run.event ?? run.command ?? run.id;
    this.renderHeader(run);
    this.renderPhases(run);
    this.renderGrid(run);
    this.updateStatus();
  }

  private renderHeader(run: RunSnapshot): void {
    const what = run.event ? t('Event {0}', run.event) : t('Command {0}', run.command ?? run.id);
    const badge = (text: string, cls: string, label: string) => el('span', { class: `badge ${cls}`, text, attrs: { 'aria-label': label } });
    const elapsed = el('span', { class: 'elapsed' });
    const tick = () => {
      const ms = (run.endedAt ?? Date.now()) - run.startedAt;
      elapsed.textContent = this.averageMs ? t('{0} (earlier runs: {1} on average)', duration(ms), duration(this.averageMs)) : duration(ms);
    };
    tick();
    clearInterval(this.elapsedTimer);
    if (!FINISHED.includes(run.status)) this.elapsedTimer = window.setInterval(tick, 1000);
    const actions = el('div', { class: 'actions', attrs: { role: 'toolbar', 'aria-label': t('Run actions') } });
    if (!FINISHED.includes(run.status) && this.source === 'live') actions.append(button(t('Cancel'), () => this.act({ type: 'cancel' }), { id: 'cancel' }));
    const failed = run.phases.find((p) => p.status === 'error' || p.status === 'timeout');
    if (this.trusted && FINISHED.includes(run.status) && failed && run.engine === 'exec' && this.source === 'live') {
      actions.append(button(t('Retry Failed Nodes'), () => this.act({ type: 'retryFailed', phase: failed.no }), { id: 'retry', aria: t('Retry the failed nodes of phase {0}', failed.no + 1) }));
    }
    if (this.trusted && FINISHED.includes(run.status)) actions.append(button(t('Re-run'), () => this.act({ type: 'rerun' }), { id: 'rerun' }));
    const title = el('h1', { text: what, attrs: { title: what } });
    const meta = el(
      'div',
      { class: 'meta' },
      badge(run.status, `st-${run.status}`, t('Status: {0}', run.status)),
      badge(run.engine, 'engine', t('Engine: {0}', run.engine)),
      el('span', { text: t('started by {0}', run.startedBy) }),
      el('span', { text: new Date(run.startedAt).toLocaleString() }),
      elapsed,
    );
    this.header.replaceChildren(el('div', { class: 'title' }, title, meta), actions);
    if (run.message) this.header.append(el('p', { class: 'message', text: run.message }));
  }

  private renderPhases(run: RunSnapshot): void {
    const list = el('ol', { class: 'phase-list' });
    for (const p of run.phases) {
      const counts = new Map<string, number>();
      for (const n of p.nodes) counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
      const summary = [...counts].map(([s, c]) => `${c} ${s}`).join(', ') || t('no nodes');
      const target = [p.service && t('service {0}', p.service), p.tag && t('tag {0}', p.tag)].filter(Boolean).join(', ') || t('all nodes');
      const took = p.startedAt ? duration((p.endedAt ?? Date.now()) - p.startedAt) : '';
      const item = el(
        'li',
        { class: `phase st-${p.status}`, attrs: { 'aria-label': t('Phase {0}, {1}: {2}; {3}', p.no + 1, p.task, p.status, summary) } },
        el('span', { class: 'dot', attrs: { 'aria-hidden': 'true' } }),
        el('strong', { class: 'task', text: `${p.no + 1}. ${p.task}`, attrs: { title: p.task } }),
        el('span', { class: 'muted', text: ` ${target}` }),
        el('span', { text: ` · ${p.status} · ${summary}${took ? ` · ${took}` : ''}` }),
      );
      if (p.message) item.append(el('div', { class: 'muted small', text: p.message }));
      list.append(item);
    }
    this.phases.replaceChildren(el('h2', { text: t('Phases') }), list);
  }

  /** Rows are nodes, columns phases; arrow keys move between cells, Enter shows that output, Shift+Enter opens the full log. */
  private renderGrid(run: RunSnapshot): void {
    const nodes = this.nodeNames().filter((n) => run.phases.some((p) => p.nodes.some((x) => x.node === n) && this.statusMatches(p.no, n)));
    const table = el('table', { attrs: { role: 'grid', 'aria-label': t('Nodes by phase: Enter shows a cell\'s output, Shift+Enter opens its full log') } });
    const head = el('tr', { attrs: { role: 'row' } }, el('th', { text: t('Node'), attrs: { role: 'columnheader' } }));
    for (const p of run.phases) head.append(el('th', { text: `${p.no + 1}. ${p.task}`, attrs: { role: 'columnheader', title: p.task } }));
    table.append(el('thead', {}, head));
    const body = el('tbody');
    const cells: HTMLElement[][] = [];
    nodes.forEach((node, r) => {
      const row = el('tr', { attrs: { role: 'row' } }, el('th', { text: node, attrs: { role: 'rowheader', scope: 'row', title: node } }));
      cells[r] = [];
      run.phases.forEach((p, c) => {
        const n = p.nodes.find((x) => x.node === node);
        const cell = this.cell(p, node, n);
        cells[r][c] = cell;
        row.append(cell);
      });
      body.append(row);
    });
    table.append(body);
    // One cell is in the tab order (roving tabindex); focus stays on the same cell across updates.
    const all = cells.flat();
    const keep = all.find((c) => c.dataset.key === this.focusedCell) ?? all[0];
    if (keep) keep.tabIndex = 0;
    table.addEventListener('keydown', (e) => this.gridKey(e, cells));
    const hadFocus = this.grid.contains(document.activeElement);
    this.grid.replaceChildren(el('h2', { text: t('Nodes') }), nodes.length ? table : el('p', { class: 'muted', text: this.state.status ? t('No node in this status.') : t('No node has started yet.') }));
    if (hadFocus && keep) keep.focus();
  }

  private cell(p: PhaseRun, node: string, n: NodeRun | undefined): HTMLElement {
    const key = outputKey(p.no, node);
    const status = n?.status ?? 'none';
    const chef = this.chef.get(key);
    const cell = el('td', { class: `cell st-${status}`, attrs: { role: 'gridcell', tabindex: '-1', 'data-key': key } });
    if (this.state.node === node && (this.state.phase === undefined || this.state.phase === p.no)) cell.classList.add('selected');
    if (!n) {
      cell.append(el('span', { class: 'muted', text: '—' }));
      cell.setAttribute('aria-label', t('{0}, phase {1}: not in this phase', node, p.no + 1));
      return cell;
    }
    const took = n.startedAt ? duration((n.endedAt ?? Date.now()) - n.startedAt) : '';
    cell.append(el('span', { class: 'dot', attrs: { 'aria-hidden': 'true' } }), el('span', { class: 'label', text: status }));
    if (took) cell.append(el('span', { class: 'muted small', text: ` ${took}` }));
    if (n.note) cell.title = n.note;
    const label = [t('{0}, phase {1} {2}: {3}', node, p.no + 1, p.task, status)];
    if (n.exitCode !== undefined && n.exitCode !== 0) label.push(t('exit code {0}', n.exitCode));
    if (chef?.text) {
      const chefLine = el('div', { class: `chef chef-${chef.status}` }, el('span', { text: chef.text }));
      const open = el('button', { class: 'link', text: t('Chef report'), attrs: { tabindex: '-1', 'aria-label': t('Open the Chef report of {0}, phase {1}', node, p.no + 1) } });
      open.addEventListener('click', (e) => {
        e.stopPropagation();
        this.act({ type: 'openChefReport', phase: p.no, node });
      });
      chefLine.append(' ', open);
      cell.append(chefLine);
      label.push(t('Chef: {0}', chef.text));
    }
    cell.setAttribute('aria-label', label.join('; '));
    cell.addEventListener('click', () => this.selectCell(p.no, node));
    cell.addEventListener('dblclick', () => this.act({ type: 'openLog', phase: p.no, node }));
    cell.addEventListener('focus', () => (this.focusedCell = key));
    return cell;
  }

  private gridKey(e: KeyboardEvent, cells: HTMLElement[][]): void {
    const target = e.target as HTMLElement;
    let r = cells.findIndex((row) => row.includes(target));
    if (r < 0) return;
    let c = cells[r].indexOf(target);
    const [phase, ...rest] = (target.dataset.key ?? '').split('/');
    const node = rest.join('/');
    switch (e.key) {
      case 'ArrowRight': c = Math.min(cells[r].length - 1, c + 1); break;
      case 'ArrowLeft': c = Math.max(0, c - 1); break;
      case 'ArrowDown': r = Math.min(cells.length - 1, r + 1); break;
      case 'ArrowUp': r = Math.max(0, r - 1); break;
      case 'Home': c = 0; break;
      case 'End': c = cells[r].length - 1; break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        if (e.shiftKey) this.act({ type: 'openLog', phase: Number(phase), node });
        else if (e.key === 'Enter' && e.altKey && this.chef.has(target.dataset.key ?? '')) this.act({ type: 'openChefReport', phase: Number(phase), node });
        else this.selectCell(Number(phase), node);
        return;
      default:
        return;
    }
    e.preventDefault();
    target.tabIndex = -1;
    const next = cells[r][c];
    next.tabIndex = 0;
    next.focus();
  }

  private selectCell(phase: number, node: string): void {
    this.state.node = node;
    this.state.phase = phase;
    this.focusedCell = outputKey(phase, node);
    this.renderToolbar();
    this.applyFilter();
    if (this.run) this.renderGrid(this.run);
  }

  // ---------------------------------------------------------------- output toolbar

  private query(): string {
    return (document.getElementById('search') as HTMLInputElement | null)?.value ?? '';
  }

  private renderToolbar(): void {
    const run = this.run;
    if (!run) return;
    const keepQuery = this.query();
    const dropdown = (id: string, label: string, options: Array<[string, string]>, value: string, onChange: (v: string) => void) => {
      const d = el('vscode-dropdown' as 'select', { attrs: { id, 'aria-label': label } });
      for (const [v, text] of options) {
        const o = el('vscode-option' as 'option', { text, attrs: { value: v } });
        if (v === value) o.setAttribute('selected', '');
        d.append(o);
      }
      d.addEventListener('change', () => onChange((d as unknown as { value: string }).value));
      return el('label', { class: 'field' }, el('span', { class: 'field-label', text: label }), d);
    };
    const checkbox = (id: string, label: string, checked: boolean, onChange: (v: boolean) => void) => {
      const c = el('vscode-checkbox' as 'input', { text: label, attrs: { id } });
      if (checked) c.setAttribute('checked', '');
      c.addEventListener('change', () => onChange((c as unknown as { checked: boolean }).checked));
      return c;
    };
    const nodes = this.nodeNames();
    const nodeSelect = dropdown('node-filter', t('Node'), [['all', t('All nodes, merged')], ...nodes.map((n): [string, string] => [`n:${n}`, n])], this.state.node !== undefined ? `n:${this.state.node}` : 'all', (v) => {
      this.state.node = v.startsWith('n:') ? v.slice(2) : undefined;
      this.applyFilter();
      if (this.run) this.renderGrid(this.run);
    });
    const phaseSelect = dropdown('phase-filter', t('Phase'), [['all', t('All phases')], ...run.phases.map((p): [string, string] => [`p:${p.no}`, `${p.no + 1}. ${p.task}`])], this.state.phase !== undefined ? `p:${this.state.phase}` : 'all', (v) => {
      this.state.phase = v.startsWith('p:') ? Number(v.slice(2)) : undefined;
      this.applyFilter();
      if (this.run) this.renderGrid(this.run);
    });
    const statuses: Array<[string, string]> = [['any', t('Any status')], ['failed', t('Failed')], ['running', t('Running')], ['success', t('Succeeded')], ['pending', t('Pending')], ['cancelled', t('Cancelled')]];
    const statusSelect = dropdown('status-filter', t('Status'), statuses, this.state.status || 'any', (v) => {
      this.state.status = v === 'any' ? '' : (v as MonitorViewState['status']);
      this.applyFilter();
      if (this.run) this.renderGrid(this.run);
    });
    const search = el('vscode-text-field' as 'input', { attrs: { id: 'search', placeholder: t('Search output'), 'aria-label': t('Search output: Enter for next, Shift+Enter for previous') } });
    (search as HTMLInputElement).value = keepQuery;
    search.addEventListener('input', () => this.output.find(this.query(), true));
    search.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.output.find(this.query(), false, e.shiftKey);
    });
    const selected = this.state.node !== undefined ? this.state.node : undefined;
    const openLog = button(t('Open Full Log'), () => {
      if (selected === undefined) return;
      const phase = this.state.phase ?? this.run?.phases.filter((p) => p.nodes.some((n) => n.node === selected)).pop()?.no;
      if (phase !== undefined) this.act({ type: 'openLog', phase, node: selected });
    }, { id: 'open-log', aria: selected === undefined ? t('Open Full Log: choose a node first') : t('Open the full log of {0}', selected) });
    if (selected === undefined) openLog.setAttribute('disabled', '');
    this.toolbar.replaceChildren(
      nodeSelect,
      phaseSelect,
      statusSelect,
      checkbox('line-numbers', t('Line numbers'), this.state.lineNumbers !== false, (v) => {
        this.state.lineNumbers = v;
        this.applyFilter();
      }),
      checkbox('timestamps', t('Timestamps'), !!this.state.timestamps, (v) => {
        this.state.timestamps = v;
        this.applyFilter();
      }),
      checkbox('follow', t('Follow'), this.state.follow !== false, (v) => {
        this.state.follow = v;
        this.output.setFollow(v);
        this.save();
      }),
      el('span', { class: 'search' }, search, button(t('Previous'), () => this.output.find(this.query(), false, true), { id: 'search-prev', appearance: 'icon', aria: t('Previous match') }), button(t('Next'), () => this.output.find(this.query(), false), { id: 'search-next', appearance: 'icon', aria: t('Next match') }), this.searchCount),
      openLog,
      button(t('Copy'), () => this.act({ type: 'copy', text: this.output.visibleText() }), { id: 'copy', aria: t('Copy the selection, or every line shown') }),
      button(t('Save Log…'), () => this.act({ type: 'saveLog', node: this.state.node, phase: this.state.phase }), { id: 'save-log', aria: t('Save the full log of what is shown') }),
    );
  }

  private applyFilter(): void {
    this.output.follow = this.state.follow !== false;
    this.output.setFilter(
      { node: this.state.node, phase: this.state.phase, matchesStatus: this.statusMatches, lineNumbers: this.state.lineNumbers !== false, timestamps: !!this.state.timestamps },
      this.nodeNames(),
    );
    this.save();
    this.updateStatus();
  }

  private updateStatus(): void {
    const cut = [...this.cut].filter((k) => {
      const [phase, ...node] = k.split('/');
      return (this.state.node === undefined || this.state.node === node.join('/')) && (this.state.phase === undefined || this.state.phase === Number(phase));
    });
    const parts = [t('{0} lines shown', this.output.shown)];
    if (cut.length) parts.push(t('earlier output is in the full log'));
    if (this.source === 'history') parts.push(t('read from Consul KV'));
    this.status.textContent = parts.join(' · ');
    this.status.dataset.shown = String(this.output.shown);
    this.status.dataset.received = String(this.output.received);
  }
}
