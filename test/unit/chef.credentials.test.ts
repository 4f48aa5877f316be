import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mergeChefProfiles } from '../../src/core/chef/chefProfiles';
import { ChefServerClient, ChefServerError } from '../../src/core/chef/server/chefServerClient';
import { parseCredentials, parseKnifeRb, readCaFiles, readChefProfiles } from '../../src/core/chef/server/credentials';

const HOME = '/home/op';

describe('Chef credentials (~/.chef/credentials, TOML)', () => {
  it('reads every profile; relative keys are relative to the file, ~ is home', () => {
    const text = [
      '[default]',
      'client_name = "barney"',
      'client_key = "barney_rubble.pem"',
      'chef_server_url = "https://api.chef.io/organizations/bedrock"',
      '',
      "[dev]",
      "node_name = 'fred'",
      'client_key = "~/keys/fred.pem"',
      'chef_server_url = "http://127.0.0.1:4545"',
    ].join('\n');
    const r = parseCredentials(text, `${HOME}/.chef/credentials`, HOME);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.profiles, [
      { name: 'default', clientName: 'barney', clientKey: `${HOME}/.chef/barney_rubble.pem`, serverUrl: 'https://api.chef.io/organizations/bedrock', source: `${HOME}/.chef/credentials [default]` },
      { name: 'dev', clientName: 'fred', clientKey: `${HOME}/keys/fred.pem`, serverUrl: 'http://127.0.0.1:4545', source: `${HOME}/.chef/credentials [dev]` },
    ]);
  });

  it('says what is missing, refuses an inline key, and gives the line of a TOML error', () => {
    const file = `${HOME}/.chef/credentials`;
    const r = parseCredentials('[a]\nclient_name = "x"\n[b]\nclient_name = "y"\nchef_server_url = "https://c"\nclient_key = """\n-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----\n"""\n', file, HOME);
    assert.deepEqual(r.profiles, []);
    assert.deepEqual(r.problems.map((p) => p.message), [
      'profile [a]: missing chef_server_url, client_key',
      'profile [b]: client_key holds the key itself; save it in a .pem file and give its path',
    ]);
    assert.ok(!JSON.stringify(r).includes('MII'), 'the key text appears nowhere');
    const bad = parseCredentials('[a]\nclient_name = "x"\nchef_server_url = https://c\n', file, HOME);
    assert.equal(bad.problems.length, 1);
    assert.equal(bad.problems[0].line, 3);
    assert.match(bad.problems[0].message, /^not TOML: /);
  });
});

describe('knife.rb / config.rb (plain key value lines)', () => {
  it('reads plain lines, in both quote styles and with parentheses, and ignores comments', () => {
    const text = [
      '# knife configuration',
      'log_level                :info',
      "node_name                'admin' # the admin client",
      'client_key               "/etc/chef/admin.pem"',
      'chef_server_url("https://chef.example.com/organizations/acme")',
      'ssl_verify_mode :verify_peer',
      'cookbook_copyright "Example #1, Inc."',
    ].join('\n');
    const r = parseKnifeRb(text, `${HOME}/.chef/knife.rb`, undefined, HOME);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.profiles, [{ name: 'knife', clientName: 'admin', clientKey: '/etc/chef/admin.pem', serverUrl: 'https://chef.example.com/organizations/acme', source: `${HOME}/.chef/knife.rb` }]);
  });

  it('reports every line of Ruby code by number and setting name only, and what is then missing', () => {
    const text = [
      'x = 1',
      'node_name "admin"',
      'client_key "#{ENV[\'HOME\']}/admin.pem"',
      'chef_server_url ENV["CHEF_URL"]',
      "knife[:editor] = 'vim'",
      'cookbook_path [File.join(current_dir, "..", "cookbooks")]',
    ].join('\n');
    const file = `${HOME}/.chef/config.rb`;
    const r = parseKnifeRb(text, file, 'config', HOME);
    assert.deepEqual(r.profiles, []);
    assert.deepEqual(r.problems.map((p) => p.message), [
      'line 1: x: not read (Ruby code is not evaluated)',
      'line 3: client_key: not read (Ruby code is not evaluated)',
      'line 4: chef_server_url: not read (Ruby code is not evaluated)',
      'line 5: knife: not read (Ruby code is not evaluated)',
      'line 6: cookbook_path: not read (Ruby code is not evaluated)',
      'no profile: missing client_key, chef_server_url (maybe set by a line that was not read)',
    ]);
    assert.deepEqual(r.problems.slice(0, 5).map((p) => p.line), [1, 3, 4, 5, 6]);
  });

  it('never echoes a key: lines inside a multi-line string are skipped, and a key as a value is refused', () => {
    const body = 'MIIEowIBAAKCAQEAsecretsecretsecret';
    const text = [
      'node_name "admin"',
      'client_key_contents "-----BEGIN RSA PRIVATE KEY-----',
      body,
      `${body}+/x = y`,
      '-----END RSA PRIVATE KEY-----"',
      "client_key '-----BEGIN RSA PRIVATE KEY----- " + body + "'",
      'chef_server_url "https://chef.example.com/organizations/acme"',
    ].join('\n');
    const r = parseKnifeRb(text, `${HOME}/.chef/knife.rb`, undefined, HOME);
    const all = JSON.stringify(r);
    assert.ok(!all.includes(body), all);
    assert.ok(!all.includes('BEGIN'), all);
    assert.deepEqual(r.problems.map((p) => p.message), [
      'line 2: client_key_contents: not read (Ruby code is not evaluated)',
      'line 6: client_key holds a key itself; save it in a .pem file and give its path',
      'no profile: missing client_key (maybe set by a line that was not read)',
    ]);
  });

  it("reads Chef's starter kit: current_dir = File.dirname(__FILE__) and #{current_dir} in paths; ssl_verify_mode :verify_none", () => {
    const text = [
      'current_dir = File.dirname(__FILE__)',
      'node_name "admin"',
      'client_key "#{current_dir}/admin.pem"',
      'chef_server_url "https://chef.example.com/organizations/acme"',
      'validation_key "#{File.dirname(__FILE__)}/acme-validator.pem"',
      'ssl_verify_mode :verify_none',
    ].join('\n');
    const r = parseKnifeRb(text, '/srv/kit/.chef/config.rb', 'config', HOME);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.profiles, [{ name: 'config', clientName: 'admin', clientKey: '/srv/kit/.chef/admin.pem', serverUrl: 'https://chef.example.com/organizations/acme', source: '/srv/kit/.chef/config.rb', verifyTls: false }]);
  });

  it('readChefProfiles reads credentials, config.rb and knife.rb of a directory; missing files are no problem', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-chef-'));
    try {
      fs.writeFileSync(path.join(dir, 'credentials'), '[default]\nclient_name = "a"\nclient_key = "a.pem"\nchef_server_url = "http://x:4545"\n');
      fs.writeFileSync(path.join(dir, 'knife.rb'), 'node_name "k"\nclient_key "k.pem"\nchef_server_url "http://y:4545"\n');
      const r = await readChefProfiles({ chefDir: dir, home: HOME });
      assert.deepEqual(r.problems, []);
      assert.deepEqual(r.profiles.map((p) => [p.name, p.clientName, p.clientKey]), [
        ['default', 'a', path.join(dir, 'a.pem')],
        ['knife', 'k', path.join(dir, 'k.pem')],
      ]);
      assert.deepEqual(await readChefProfiles({ chefDir: path.join(dir, 'none'), home: HOME }), { profiles: [], problems: [] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trusts ~/.chef/trusted_certs and a setting\'s caFile: a self-signed HTTPS server is reached with them, refused without', async () => {
    const tlsDir = path.resolve(__dirname, '../../../test/fixtures/chef/tls');
    const cert = fs.readFileSync(path.join(tlsDir, 'cert.pem'));
    const srv = https.createServer({ cert, key: fs.readFileSync(path.join(tlsDir, 'key.pem')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cco-chef-'));
    try {
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      fs.writeFileSync(path.join(dir, 'k.pem'), privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
      fs.writeFileSync(path.join(dir, 'knife.rb'), `node_name "k"\nclient_key "k.pem"\nchef_server_url "${url}"\n`);
      const clientFor = (p: { serverUrl: string; clientName: string; clientKey: string; caFiles?: string[]; verifyTls?: boolean }) =>
        new ChefServerClient({ serverUrl: p.serverUrl, clientName: p.clientName, clientKeyPath: p.clientKey, ca: p.caFiles ? readCaFiles(p.caFiles) : undefined, verifyTls: p.verifyTls });
      const before = (await readChefProfiles({ chefDir: dir, home: HOME })).profiles[0];
      assert.equal(before.caFiles, undefined);
      await assert.rejects(clientFor(before).get('/nodes'), (e: ChefServerError) => e.kind === 'tls' && e.message.includes('~/.chef/trusted_certs') && e.message.includes('"caFile"'));
      fs.mkdirSync(path.join(dir, 'trusted_certs'));
      fs.writeFileSync(path.join(dir, 'trusted_certs', '127.0.0.1.crt'), cert);
      fs.writeFileSync(path.join(dir, 'trusted_certs', 'notes.txt'), 'not a cert');
      const after = (await readChefProfiles({ chefDir: dir, home: HOME })).profiles[0];
      assert.deepEqual(after.caFiles, [path.join(dir, 'trusted_certs', '127.0.0.1.crt')]);
      assert.deepEqual(await clientFor(after).get('/nodes'), { ok: true });
      const fromSetting = mergeChefProfiles([{ name: 's', serverUrl: url, clientName: 'k', clientKey: path.join(dir, 'k.pem'), caFile: path.join(dir, 'trusted_certs', '127.0.0.1.crt') }], [], HOME).profiles[0];
      assert.deepEqual(await clientFor(fromSetting).get('/nodes'), { ok: true });
      assert.throws(() => readCaFiles([path.join(dir, 'trusted_certs', 'notes.txt')]), /holds no PEM certificate/);
      assert.throws(() => readCaFiles([path.join(dir, 'none.pem')]), /Cannot read the CA certificate .*none.pem: ENOENT/);
    } finally {
      await new Promise((r) => srv.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
