import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pidAlive, WindowLease } from '../../src/core/util/windowLease';

describe('WindowLease', () => {
  let dir: string;
  const leases: WindowLease[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-lease-'));
  });
  afterEach(() => {
    leases.splice(0).forEach((l) => l.dispose());
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const lease = (o: Partial<ConstructorParameters<typeof WindowLease>[0]> = {}) => {
    const l = new WindowLease({ dir, name: 'watches', intervalMs: 50, ...o });
    leases.push(l);
    return l;
  };

  it('has one owner among two windows; the other takes over when the owner closes', async () => {
    const a = lease();
    const b = lease();
    assert.deepEqual(a.start(), { kind: 'owner' });
    assert.deepEqual(b.start(), { kind: 'other', pid: process.pid });
    // Heartbeats keep it with a.
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(a.isOwner, true);
    assert.equal(b.isOwner, false);
    const changes: string[] = [];
    b.onDidChange((s) => changes.push(s.kind));
    a.dispose();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(b.isOwner, true);
    assert.deepEqual(changes, ['owner']);
  });

  it('takes over a lock whose PID is dead, even with a fresh heartbeat', () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    assert.equal(pidAlive(dead), false);
    fs.writeFileSync(path.join(dir, 'watches.lock'), JSON.stringify({ pid: dead, token: 'old', heartbeat: Date.now() }));
    assert.deepEqual(lease().start(), { kind: 'owner' });
  });

  it('takes over a lock whose heartbeat stopped (a hung window), not a live one', () => {
    let t = 1_000_000;
    const a = lease({ now: () => t, intervalMs: 1000 });
    const b = lease({ now: () => t, intervalMs: 1000 });
    a.start();
    t += 2500;
    assert.deepEqual(b.check(), { kind: 'other', pid: process.pid });
    t += 1000; // 3.5 intervals without a heartbeat from a
    assert.deepEqual(b.check(), { kind: 'owner' });
    // a notices at its next round and stops running things.
    assert.deepEqual(a.check(), { kind: 'other', pid: process.pid });
  });

  it('carries the owner\'s news to the other windows at their next check, once, and never back to the owner', () => {
    const a = lease({ news: true });
    const b = lease({ news: true });
    a.start();
    b.start();
    let heardB = 0;
    let heardA = 0;
    b.onDidHearNews(() => heardB++);
    a.onDidHearNews(() => heardA++);
    b.check();
    assert.equal(heardB, 0, 'no news without an announcement');
    b.announce(); // not the owner: says nothing
    b.check();
    assert.equal(heardB, 0);
    a.announce();
    b.check();
    assert.equal(heardB, 1);
    b.check();
    assert.equal(heardB, 1, 'heard once');
    a.announce(); // the same millisecond: still news
    b.check();
    assert.equal(heardB, 2);
    a.announce();
    b.check();
    assert.equal(heardB, 3);
    assert.equal(heardA, 0, 'the owner does not hear itself');
    // News from before a window listens is not news to it.
    const c = lease({ news: true });
    let heardC = 0;
    c.onDidHearNews(() => heardC++);
    c.start();
    c.check();
    assert.equal(heardC, 0);
    // A lease without news neither announces nor reads the news file.
    const quiet = lease({ name: 'quiet' });
    const other = lease({ name: 'quiet' });
    let heardQuiet = 0;
    other.onDidHearNews(() => heardQuiet++);
    quiet.start();
    other.start();
    quiet.announce();
    other.check();
    assert.equal(heardQuiet, 0);
    assert.equal(fs.existsSync(path.join(dir, 'quiet.news')), false);
  });

  it('treats a garbled lock file as stale', () => {
    fs.writeFileSync(path.join(dir, 'watches.lock'), 'not json');
    assert.deepEqual(lease().start(), { kind: 'owner' });
  });
});
