import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTION_KINDS, redactDeep, redactSecrets, shannonEntropy } from '../../src/core/redaction';
import { rng } from './helpers/random';

// Secrets are generated at run time from a seeded generator, so that no real-looking credential is
// committed to the repository (and push protection of code hosts has nothing to object to).
const rand = rng(20240601);
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const HEX = '0123456789abcdef';
const B64 = ALNUM + '+/';
function pick(alphabet: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(rand() * alphabet.length)];
  return out;
}
const uuid = () => `${pick(HEX, 8)}-${pick(HEX, 4)}-4${pick(HEX, 3)}-a${pick(HEX, 3)}-${pick(HEX, 12)}`;
const b64url = (text: string) => Buffer.from(text).toString('base64url');

const jwt = [
  b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })),
  b64url(JSON.stringify({ sub: 'user-42', name: 'Ada Lovelace', iat: 1718000000, exp: 1718003600 })),
  pick(ALNUM + '-_', 43),
].join('.');

function pemBody(lines: number): string {
  return Array.from({ length: lines }, () => pick(B64, 64)).join('\n');
}

/** One planted secret per kind: the secret, and text that carries it as people and agents write it. */
const SAMPLES: Record<string, { secret: string; text: (s: string) => string }> = {
  'age-secret-key': { secret: 'AGE-SECRET-KEY-1' + pick('QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L', 58), text: s => `# created: 2024-06-01\n# public key: age1abc\n${s}\n` },
  'anthropic-api-key': { secret: 'sk-ant-api03-' + pick(ALNUM + '_-', 93) + 'AA', text: s => `export ANTHROPIC_API_KEY="${s}"` },
  'authorization-header': { secret: pick(ALNUM, 40), text: s => `GET /v1/items HTTP/1.1\nHost: api.example.com\nAuthorization: Bearer ${s}\nAccept: */*` },
  'aws-access-key-id': { secret: 'AKIA' + pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16), text: s => `[default]\naws_access_key_id = ${s}\nregion = eu-west-1` },
  'aws-bedrock-api-key': { secret: 'ABSK' + pick(B64, 120), text: s => `AWS_BEARER_TOKEN_BEDROCK=${s}` },
  'aws-secret-access-key': { secret: pick(ALNUM + '/+', 40), text: s => `[default]\naws_secret_access_key = ${s}\n` },
  'curl-user-password': { secret: pick(ALNUM, 14), text: s => `curl -sS -u deploy:${s} https://artifacts.example.com/api/upload -T build.zip` },
  'databricks-token': { secret: 'dapi' + pick(HEX, 32), text: s => `databricks configure --token ${s}` },
  'digitalocean-token': { secret: 'dop_v1_' + pick(HEX, 64), text: s => `doctl auth init -t ${s}` },
  'doppler-token': { secret: 'dp.pt.' + pick(ALNUM, 43), text: s => `DOPPLER_TOKEN=${s} doppler run -- npm start` },
  'generic-api-key': { secret: pick(ALNUM, 32), text: s => `const client = new Client({ region: "eu", client_secret: "${s}" });` },
  'generic-password': { secret: 'Xq7!pL2#' + pick(ALNUM, 6), text: s => `spring.datasource.username=app\nspring.datasource.password=${s}\n` },
  'github-token': { secret: 'ghp_' + pick(ALNUM, 36), text: s => `I pushed with my token ${s}, can you retry the CI run?` },
  'gitlab-token': { secret: 'glpat-' + pick(ALNUM + '_-', 20), text: s => `git remote add origin https://oauth2@gitlab.example.com/g/r.git # token ${s}` },
  'google-api-key': { secret: 'AIza' + pick(ALNUM + '_-', 35), text: s => `<script src="https://maps.googleapis.com/maps/api/js?key=${s}&callback=init"></script>` },
  'grafana-token': { secret: 'glsa_' + pick(ALNUM, 32) + '_' + pick(HEX, 8), text: s => `GRAFANA_SA_TOKEN: ${s}` },
  'heroku-api-key': { secret: 'HRKU-AA' + pick(ALNUM + '_-', 58), text: s => `heroku auth:token → ${s}` },
  'huggingface-token': { secret: 'hf_' + pick('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 34), text: s => `huggingface-cli login --token ${s}` },
  jwt: { secret: jwt, text: s => `The session cookie was ${s} and it expired an hour later.` },
  'linear-api-key': { secret: 'lin_api_' + pick(ALNUM, 40), text: s => `LINEAR_API_KEY=${s}` },
  'microsoft-teams-webhook': {
    secret: `https://acme.webhook.office.com/webhookb2/${uuid()}@${uuid()}/IncomingWebhook/${pick(HEX, 32)}/${uuid()}`,
    text: s => `notify:\n  teams: ${s}\n`,
  },
  'notion-token': { secret: 'ntn_' + pick('0123456789', 11) + pick(ALNUM, 35), text: s => `NOTION_TOKEN=${s}` },
  'npm-token': { secret: 'npm_' + pick(ALNUM, 36), text: s => `//registry.npmjs.org/:_authToken=${s}\nalways-auth=true` },
  'onepassword-token': { secret: 'ops_eyJ' + pick(B64, 260), text: s => `OP_SERVICE_ACCOUNT_TOKEN=${s}` },
  'openai-api-key': { secret: 'sk-proj-' + pick(ALNUM + '_-', 74) + 'T3BlbkFJ' + pick(ALNUM + '_-', 74), text: s => `openai.api_key = "${s}"` },
  'password-in-url': { secret: 'hG7-kP9zQ2wX', text: s => `curl -X POST https://ci-bot:${s}@jenkins.example.com/job/release/build` },
  'perplexity-api-key': { secret: 'pplx-' + pick(ALNUM, 48), text: s => `PPLX_KEY=${s}` },
  'postman-api-key': { secret: 'PMAK-' + pick(HEX, 24) + '-' + pick(HEX, 34), text: s => `x-api-key: ${s}` },
  'private-key': {
    secret: `-----BEGIN RSA PRIVATE KEY-----\n${pemBody(12)}\n${pick(B64, 40)}==\n-----END RSA PRIVATE KEY-----`,
    text: s => `Here is the deploy key, put it in ~/.ssh/id_rsa:\n\n${s}\n\nthen chmod 600 it.`,
  },
  'pulumi-token': { secret: 'pul-' + pick(HEX, 40), text: s => `PULUMI_ACCESS_TOKEN=${s}` },
  'pypi-token': { secret: 'pypi-AgEIcHlwaS5vcmc' + pick(ALNUM + '_-', 70), text: s => `[pypi]\nusername = __token__\npassword = ${s}` },
  'rubygems-token': { secret: 'rubygems_' + pick(HEX, 48), text: s => `:rubygems_api_key: ${s}` },
  'sendgrid-api-key': { secret: 'SG.' + pick(ALNUM + '_-', 22) + '.' + pick(ALNUM + '_-', 43), text: s => `SENDGRID_API_KEY='${s}'` },
  'sentry-token': { secret: 'sntryu_' + pick(HEX, 64), text: s => `sentry-cli --auth-token ${s} releases new v1` },
  'shopify-token': { secret: 'shpat_' + pick(HEX, 32), text: s => `X-Shopify-Access-Token: ${s}` },
  'slack-token': { secret: `xoxb-${pick('0123456789', 12)}-${pick('0123456789', 13)}-${pick(ALNUM, 24)}`, text: s => `SLACK_BOT_TOKEN=${s}` },
  'slack-webhook': { secret: `https://hooks.slack.com/services/T${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 8)}/B${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 8)}/${pick(ALNUM, 24)}`, text: s => `Post the summary to ${s} when the build is green.` },
  'stripe-key': { secret: 'sk_live_' + pick(ALNUM, 24), text: s => `stripe.api_key = '${s}'` },
  'twilio-api-key': { secret: 'SK' + pick(HEX, 32), text: s => `TWILIO_API_KEY_SID ${s}` },
  'vault-token': { secret: 'hvs.' + pick(ALNUM + '_-', 95), text: s => `export VAULT_TOKEN=${s}` },
};

function assertRedacted(text: string, secret: string, kind: string): string {
  const r = redactSecrets(text);
  assert.ok(!r.text.includes(secret), `the ${kind} secret is gone from: ${r.text}`);
  assert.ok(r.text.includes(`[REDACTED:${kind}]`), `marker [REDACTED:${kind}] in: ${r.text}`);
  assert.ok(r.findings.some(f => f.kind === kind && f.count >= 1), `finding ${kind} in ${JSON.stringify(r.findings)}`);
  return r.text;
}

test('redactSecrets: the rule set reports these kinds', () => {
  assert.deepEqual([...REDACTION_KINDS].sort(), Object.keys(SAMPLES).sort());
});

for (const [kind, sample] of Object.entries(SAMPLES)) {
  test(`redactSecrets: ${kind} planted in realistic text is replaced by its marker`, () => {
    const text = sample.text(sample.secret);
    const out = assertRedacted(text, sample.secret, kind);
    // the text around the secret survives
    const [before] = text.split(sample.secret);
    assert.ok(out.startsWith(before.slice(0, Math.min(before.length, 12))), out);
  });
}

test('redactSecrets: a chat message with several secrets keeps its prose', () => {
  const gh = 'ghp_' + pick(ALNUM, 36);
  const stripe = 'sk_test_' + pick(ALNUM, 30);
  const text = `Hi! CI fails with 401. I set GITHUB_TOKEN=${gh} and the Stripe test key ${stripe}; the docs say the key rotates daily.`;
  const r = redactSecrets(text);
  assert.equal(
    r.text,
    'Hi! CI fails with 401. I set GITHUB_TOKEN=[REDACTED:github-token] and the Stripe test key [REDACTED:stripe-key]; the docs say the key rotates daily.',
  );
  assert.deepEqual(r.findings, [{ kind: 'github-token', count: 1 }, { kind: 'stripe-key', count: 1 }]);
});

test('redactSecrets: .env snippet — secrets go, ordinary settings stay', () => {
  const aws = 'AKIA' + pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16);
  const awsSecret = pick(ALNUM + '/+', 40);
  const dbPassword = 'Tr0ub4dor&3x';
  const session = pick(ALNUM, 48);
  const env = [
    'NODE_ENV=production',
    'PORT=3000',
    'LOG_LEVEL=debug',
    `AWS_ACCESS_KEY_ID=${aws}`,
    `AWS_SECRET_ACCESS_KEY=${awsSecret}`,
    `DATABASE_URL=postgres://app:${dbPassword}@db.internal:5432/prod`,
    `DB_PASSWORD="${dbPassword}"`,
    `SESSION_SECRET=${session}`,
    'FEATURE_FLAGS=search,export',
    'SMTP_PASSWORD=${SMTP_PASSWORD}',
  ].join('\n');
  const r = redactSecrets(env);
  assert.equal(
    r.text,
    [
      'NODE_ENV=production',
      'PORT=3000',
      'LOG_LEVEL=debug',
      'AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key-id]',
      'AWS_SECRET_ACCESS_KEY=[REDACTED:aws-secret-access-key]',
      'DATABASE_URL=postgres://app:[REDACTED:password-in-url]@db.internal:5432/prod',
      'DB_PASSWORD="[REDACTED:generic-password]"',
      'SESSION_SECRET=[REDACTED:generic-api-key]',
      'FEATURE_FLAGS=search,export',
      'SMTP_PASSWORD=${SMTP_PASSWORD}',
    ].join('\n'),
  );
});

test('redactSecrets: JSON config — only secret values change, the JSON stays valid', () => {
  const config = {
    name: 'billing-service',
    version: '1.4.2',
    id: uuid(),
    commit: pick(HEX, 40),
    github: { token: 'gho_' + pick(ALNUM, 36), owner: 'acme' },
    database: { host: 'db.internal', user: 'billing', password: 'N0t-So-S3cret!' },
    openai: { apiKey: 'sk-proj-' + pick(ALNUM, 74) + 'T3BlbkFJ' + pick(ALNUM, 74) },
    apiKey: pick(HEX, 32),
    slack: { webhook: `https://hooks.slack.com/services/T${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}/B${pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}/${pick(ALNUM, 24)}` },
  };
  for (const text of [JSON.stringify(config), JSON.stringify(config, null, 2)]) {
    const r = redactSecrets(text);
    const parsed = JSON.parse(r.text);
    assert.deepEqual(
      { ...parsed, github: { ...parsed.github }, database: { ...parsed.database } },
      {
        ...config,
        github: { token: '[REDACTED:github-token]', owner: 'acme' },
        database: { host: 'db.internal', user: 'billing', password: '[REDACTED:generic-password]' },
        openai: { apiKey: '[REDACTED:openai-api-key]' },
        apiKey: '[REDACTED:generic-api-key]',
        slack: { webhook: '[REDACTED:slack-webhook]' },
      },
    );
  }
});

test('redactSecrets: PEM private keys (terminated, JSON-escaped, cut off) are replaced whole; public material stays', () => {
  for (const label of ['RSA PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'PGP PRIVATE KEY BLOCK']) {
    const body = pemBody(8);
    const block = `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;
    const r = redactSecrets(`key:\n${block}\nend`);
    assert.equal(r.text, 'key:\n[REDACTED:private-key]\nend', label);
    // as a JSON string value (newlines escaped), e.g. a service-account file
    const json = JSON.stringify({ type: 'service_account', private_key: block + '\n' });
    const rj = redactSecrets(json);
    assert.ok(!rj.text.includes(body.slice(0, 64)), label);
    assert.equal(JSON.parse(rj.text).private_key, '[REDACTED:private-key]\n');
  }
  // a paste that was cut before the END line still loses the key material
  const cut = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,${pick(HEX, 32).toUpperCase()}\n\n${pemBody(5)}`;
  const rc = redactSecrets(`I copied this:\n${cut}`);
  assert.equal(rc.text, 'I copied this:\n[REDACTED:private-key]');
  // public keys and certificates are not secrets
  const pub = `-----BEGIN PUBLIC KEY-----\n${pemBody(4)}\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\n${pemBody(6)}\n-----END CERTIFICATE-----`;
  assert.equal(redactSecrets(pub).text, pub);
  // prose that mentions the header is not a key
  const prose = 'The file must start with -----BEGIN OPENSSH PRIVATE KEY----- and end with the END line.';
  assert.equal(redactSecrets(prose).text, prose);
});

test('redactSecrets: password in a URL — the URL stays, only the password goes', () => {
  const pw = 'p' + pick(ALNUM, 11);
  assert.equal(redactSecrets(`curl https://user:${pw}@host/`).text, 'curl https://user:[REDACTED:password-in-url]@host/');
  assert.equal(
    redactSecrets(`git clone https://deploy:${pw}@gitlab.example.com/group/repo.git`).text,
    'git clone https://deploy:[REDACTED:password-in-url]@gitlab.example.com/group/repo.git',
  );
  assert.equal(redactSecrets(`mongodb+srv://admin:${pw}@cluster0.ab1cd.mongodb.net/app?retryWrites=true`).text, 'mongodb+srv://admin:[REDACTED:password-in-url]@cluster0.ab1cd.mongodb.net/app?retryWrites=true');
  assert.equal(redactSecrets(`redis://:${pw}@cache:6379/0`).text, 'redis://:[REDACTED:password-in-url]@cache:6379/0');
  // a password with an @ in it: everything up to the last @ of the authority
  assert.equal(redactSecrets('postgres://app:p@ss-W0rd!@db.internal:5432/prod').text, 'postgres://app:[REDACTED:password-in-url]@db.internal:5432/prod');
  // placeholders and templates are documentation, not secrets
  for (const url of ['https://user:password@example.com/', 'https://${USER}:${PASSWORD}@example.com/', 'postgres://app:<password>@localhost/db', 'https://x:****@host.example/']) {
    assert.equal(redactSecrets(url).text, url, url);
  }
  // URLs without a password
  for (const url of ['https://example.com/a?b=c#d', 'ssh://git@github.com/org/repo.git', 'git@github.com:org/repo.git', 'https://user@example.com/', 'http://localhost:8080/api']) {
    assert.equal(redactSecrets(url).text, url, url);
  }
});

test('redactSecrets: a JWT in an Authorization header is reported as a jwt', () => {
  const r = redactSecrets(`curl -H "Authorization: Bearer ${jwt}" https://api.example.com/me`);
  assert.equal(r.text, 'curl -H "Authorization: Bearer [REDACTED:jwt]" https://api.example.com/me');
  assert.deepEqual(r.findings, [{ kind: 'jwt', count: 1 }]);
});

test('redactSecrets: a token longer than its pattern is redacted whole', () => {
  const long = 'glpat-' + pick(ALNUM, 40);
  assert.equal(redactSecrets(`token ${long} here`).text, 'token [REDACTED:gitlab-token] here');
});

test('redactSecrets: prose, ids, hashes and code without secrets are unchanged', () => {
  const clean = [
    'The password reset flow sends a token by email; the API key is configured in the vault, never in code.',
    'We decided to rotate the access token every 24 hours and keep the secret out of the repository.',
    'Fixed in commit 3f786850e387550fdab836ed7e6dc881de23001b (short: 3f78685), see PR #1234.',
    `Session ${uuid()} failed at 2024-06-01T12:34:56Z with exit code 137 after 12.5s.`,
    'Bump typescript from 5.8.3 to 5.9.3 and @types/node to ^20.19.43.',
    'const password = req.body.password;\nconst apiKey = process.env.OPENAI_API_KEY;\nif (!token) throw new Error("missing token");',
    'interface Login { username: string; password: string; rememberMe?: boolean }',
    'password: ${{ secrets.DB_PASSWORD }}\napi_key: ${API_KEY}\ntoken: <your-token-here>',
    'AWS example credentials: AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    'Key: value pairs are separated by a colon; the primary_key = id_column_name.',
    'sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'src/core/redaction.ts:120:7 - error TS2322: Type "string" is not assignable to type "number".',
    'Emoji and accents stay: café 🚀 ✅ — naïve façade.',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGz8sHfK0Gq1WmJ6Qe2xR3vYb7T9uLpN4cVd5aZ1wXyE dev@laptop',
    'Use `npm ci` then `npm test`; the token bucket refills 10 tokens per second.',
  ];
  for (const text of clean) {
    const r = redactSecrets(text);
    assert.equal(r.text, text, text);
    assert.deepEqual(r.findings, []);
  }
});

test('redactSecrets: small image data: URLs are not redacted', () => {
  // a 1x1 transparent PNG and an SVG
  const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
  const svg = 'data:image/svg+xml;base64,' + Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>').toString('base64');
  const random = 'data:image/jpeg;base64,' + pick(B64, 20000) + '==';
  for (const text of [`<img src="${png}">`, `![icon](${svg})`, `background: url(${random});`, JSON.stringify({ avatar: png, api_key_id: 'k1' })]) {
    assert.equal(redactSecrets(text).text, text);
  }
});

test('redactSecrets: is idempotent on every sample and on mixtures of them', () => {
  const texts = Object.values(SAMPLES).map(s => s.text(s.secret));
  const mix = (n: number) => Array.from({ length: n }, () => texts[Math.floor(rand() * texts.length)]).join(rand() < 0.5 ? '\n' : ' ');
  for (const text of [...texts, ...Array.from({ length: 60 }, () => mix(1 + Math.floor(rand() * 6)))]) {
    const once = redactSecrets(text);
    const twice = redactSecrets(once.text);
    assert.equal(twice.text, once.text);
    assert.deepEqual(twice.findings, []);
  }
});

test('redactSecrets: is synchronous, rejects non-strings, and handles large text quickly', () => {
  const result = redactSecrets('nothing here');
  assert.ok(!(result instanceof Promise));
  assert.deepEqual(result, { text: 'nothing here', findings: [] });
  assert.equal(redactSecrets('').text, '');
  assert.throws(() => redactSecrets(42 as unknown as string), TypeError);
  // ~1 MB of log text with a few secrets inside
  const lines: string[] = [];
  for (let i = 0; i < 12000; i++) lines.push(`2024-06-01T12:00:${String(i % 60).padStart(2, '0')}Z INFO worker-${i % 7} processed job ${uuid()} in ${i % 500}ms`);
  const gh = 'ghp_' + pick(ALNUM, 36);
  lines.splice(5000, 0, `DEBUG using token ${gh}`);
  const big = lines.join('\n');
  const started = Date.now();
  const r = redactSecrets(big);
  const elapsed = Date.now() - started;
  assert.ok(!r.text.includes(gh));
  assert.deepEqual(r.findings, [{ kind: 'github-token', count: 1 }]);
  assert.ok(elapsed < 5000, `took ${elapsed} ms`);
});

test('redactSecrets: API key headers are redacted', () => {
  const key = pick(ALNUM, 32);
  assert.equal(redactSecrets(`X-Api-Key: ${key}`).text, 'X-Api-Key: [REDACTED:authorization-header]');
  assert.equal(redactSecrets(`curl -H 'X-Auth-Token: ${key}' https://x.example.com`).text, "curl -H 'X-Auth-Token: [REDACTED:authorization-header]' https://x.example.com");
  assert.equal(redactSecrets('Authorization: Basic ' + Buffer.from('ada:' + key).toString('base64')).text, 'Authorization: Basic [REDACTED:authorization-header]');
});

test('redactSecrets: pathological inputs finish quickly', () => {
  const inputs = [
    'curl '.repeat(50000),
    '-----BEGIN RSA PRIVATE KEY-----\n'.repeat(3000),
    '-----BEGIN RSA PRIVATE KEY-----' + 'A'.repeat(200000) + '!',
    ('Authorization' + ' '.repeat(50)).repeat(20000),
    ('api_key=' + 'a1B2'.repeat(40000) + '.').repeat(3),
    'key=key=key=key='.repeat(30000),
    ('https://u:' + 'p'.repeat(300)).repeat(2000),
    ('eyJ' + 'a'.repeat(5000) + '.eyJ' + 'b'.repeat(5000) + '.').repeat(50),
    ('password="' + 'x'.repeat(300)).repeat(3000),
    'A'.repeat(2_000_000),
  ];
  for (const text of inputs) {
    const started = Date.now();
    redactSecrets(text);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 8000, `${text.slice(0, 30)}…: ${elapsed} ms`);
  }
});

test('redactDeep: redacts every string leaf and key of nested values, and values secret given their key, without touching the input', () => {
  const gh = 'ghs_' + pick(ALNUM, 36);
  const npm = 'npm_' + pick(ALNUM, 36);
  const when = new Date('2024-06-01T00:00:00Z');
  const input = {
    message: `deploying with ${gh}`,
    count: 3,
    ok: true,
    nothing: null,
    when,
    steps: ['clone', `npm config set //registry.npmjs.org/:_authToken=${npm}`, { nested: [`again ${gh}`] }],
    [`${gh}`]: 'a key is outside text too',
    API_KEY: '3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e',
  };
  const snapshot = structuredClone(input);
  const { value, findings } = redactDeep(input);
  assert.deepEqual(input, snapshot, 'input unchanged');
  assert.equal(value.message, 'deploying with [REDACTED:github-token]');
  assert.equal(value.count, 3);
  assert.equal(value.ok, true);
  assert.equal(value.nothing, null);
  assert.equal(value.when, when, 'non-plain objects are kept by reference');
  assert.deepEqual(value.steps, ['clone', 'npm config set //registry.npmjs.org/:_authToken=[REDACTED:npm-token]', { nested: ['again [REDACTED:github-token]'] }]);
  assert.equal(value[gh], undefined, 'a secret in a key is redacted (issue "Trust" item 2)');
  assert.equal(value['[REDACTED:github-token]'], 'a key is outside text too');
  assert.equal(value.API_KEY, '[REDACTED:generic-api-key]', 'a value that is a secret given its key');
  assert.deepEqual(findings, [{ kind: 'generic-api-key', count: 1 }, { kind: 'github-token', count: 3 }, { kind: 'npm-token', count: 1 }]);
  // primitives pass through
  assert.deepEqual(redactDeep('plain'), { value: 'plain', findings: [] });
  assert.deepEqual(redactDeep(7), { value: 7, findings: [] });
  assert.deepEqual(redactDeep(undefined), { value: undefined, findings: [] });
});

test('redactDeep: copies cycles and keeps an own __proto__ key as data', () => {
  const a: Record<string, unknown> = { secret: 'xoxb-' + pick('0123456789', 12) + '-' + pick('0123456789', 12) + '-' + pick(ALNUM, 24) };
  a.self = a;
  const { value, findings } = redactDeep(a);
  assert.equal(value.self, value);
  assert.equal(value.secret, '[REDACTED:slack-token]');
  assert.deepEqual(findings, [{ kind: 'slack-token', count: 1 }]);
  const parsed = JSON.parse('{"__proto__": {"polluted": "ghp_' + pick(ALNUM, 36) + '"}}');
  const out = redactDeep(parsed).value as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: '[REDACTED:github-token]' });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('shannonEntropy: bits per character as in gitleaks', () => {
  assert.equal(shannonEntropy(''), 0);
  assert.equal(shannonEntropy('aaaa'), 0);
  assert.equal(shannonEntropy('abab'), 1);
  assert.equal(shannonEntropy('abcd'), 2);
  assert.equal(shannonEntropy('🚀🚀✅✅'), 1);
});

test('generic shapes (issue "Trust" item 2): URL credentials of any length, secret-named assignments, JSON keys; prose is kept', () => {
  const hex = '3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e';
  const leaks = [
    ['postgres://u:pw@h/db', 'pw@'],
    [`API_KEY=${hex}`, hex],
    ['SECRET_TOKEN=q8Zr2mKx7Lp', 'q8Zr2mKx7Lp'],
    ['DB_SECRET=zxcvbnm1234567890', 'zxcvbnm1234567890'],
    ['{"apiKey": "AIzaFakeKey1234567890abcdef"}', 'AIzaFakeKey1234567890abcdef'],
    ['{"password":"letmein2024"}', 'letmein2024'],
  ];
  for (const [text, secret] of leaks) {
    const out = redactSecrets(text).text;
    assert.ok(!out.includes(secret), `${text} → ${out}`);
    assert.match(out, /\[REDACTED:/);
  }
  for (const prose of ['The password field must be hashed.', 'Set API_KEY in your env', 'use postgres://localhost/db for dev', 'sort by "sortKey": "created_at"']) {
    assert.equal(redactSecrets(prose).text, prose);
  }
});
