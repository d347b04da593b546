// A real OpenID provider for the single sign-on tests (tests/accounts/oidc_provider.py starts it).
//
// oidc-provider, a certified implementation, on a free port of 127.0.0.1. The clients come from the
// OIDC_TEST_CLIENTS environment variable (JSON); the people are fixed below. Its own sign-in page
// asks only for a username: it stands for the person's NHS mail sign-in, password and all.
// On start it prints one line of JSON, {"issuer": "http://127.0.0.1:<port>"}, then serves until
// stopped (SIGTERM).
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

// Username -> what the provider knows of them. `amr` is how they signed in at the provider.
const PEOPLE = {
  'chair-mfa': { email: 'chair@rcf.example.org', email_verified: true, name: 'Clare Chairwoman', amr: ['pwd', 'mfa'] },
  'ned-password': { email: 'ned.one@rcf.example.org', email_verified: true, name: 'Nadia Okafor', amr: ['pwd'] },
  // The same person's address written differently: matched as the folded address.
  'ned-shouting': { email: 'NED.ONE@RCF.EXAMPLE.ORG', email_verified: true, name: 'Nadia Okafor', amr: ['pwd'] },
  'secretary-acr': { email: 'secretary@rcf.example.org', email_verified: true, name: 'Sam Secretary', amr: ['pwd'], acr: 'urn:test:loa:mfa' },
  'analyst-mfa': { email: 'analyst@sector.example.org', email_verified: true, name: 'Ana Lyst', amr: ['pwd', 'mfa'] },
  'analyst-password': { email: 'analyst.two@sector.example.org', email_verified: true, name: 'Ana Lyst', amr: ['pwd'] },
  stranger: { email: 'stranger@rcf.example.org', email_verified: true, name: 'Stan Ranger', amr: ['pwd', 'mfa'] },
  'unverified-ned': { email: 'ned.two@rcf.example.org', email_verified: false, name: 'Not Verified', amr: ['pwd'] },
  'elsewhere-ned': { email: 'ned.three@elsewhere.example.com', email_verified: true, name: 'Else Where', amr: ['pwd'] },
  // Someone whose mailbox has since been given the chair's old address.
  'new-holder': { email: 'chair@rcf.example.org', email_verified: true, name: 'New Holder', amr: ['pwd', 'mfa'] },
  // The chair after an address change at the provider (same `sub` as chair-mfa: see subjectOf).
  'chair-renamed': { email: 'clare.chair@rcf.example.org', email_verified: true, name: 'Clare Chairwoman', amr: ['pwd', 'mfa'] },
};
// The provider's stable identifier for each person (`sub`); the renamed chair keeps the chair's.
const subjectOf = (username) => (username === 'chair-renamed' ? 'sub-chair-mfa' : `sub-${username}`);
const usernameOf = Object.fromEntries(Object.keys(PEOPLE).map((u) => [subjectOf(u), u]));
// The renamed chair answers for the shared `sub` only while it is the one signing in.
let lastSignedIn = {};

const clients = JSON.parse(process.env.OIDC_TEST_CLIENTS || '[]');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test provider sign-in</title></head>
<body><main><h1>Test provider</h1>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<label for="login">Username</label> <input id="login" name="login" autocomplete="off">
<button type="submit">Continue</button>
</form></main></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomUUID()] },
    // amr and acr say how the person signed in at the provider (the second-factor rule reads them).
    claims: { openid: ['sub', 'amr', 'acr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'] },
    // The email in the ID token itself (as Microsoft Entra ID sends it), not only from userinfo.
    conformIdTokenClaims: false,
    acrValues: ['urn:test:loa:mfa'],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const username = lastSignedIn[sub] || usernameOf[sub];
      const person = PEOPLE[username];
      if (!person) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, email: person.email, email_verified: person.email_verified, name: person.name };
        },
      };
    },
  });
  // Plain http on loopback: the tests' issuer is http://127.0.0.1.
  provider.proxy = false;
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    const match = /^\/interaction\/([^/?]+)/.exec(req.url);
    if (!match) {
      callback(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(signInPage(details.uid));
        return;
      }
      const form = await readForm(req);
      const username = (form.get('login') || '').trim();
      const person = PEOPLE[username];
      if (!person) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(signInPage(details.uid, 'No such test user'));
        return;
      }
      const accountId = subjectOf(username);
      lastSignedIn[accountId] = username;
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      const result = {
        login: { accountId, amr: person.amr, ...(person.acr ? { acr: person.acr } : {}), remember: false },
        consent: { grantId: await grant.save() },
      };
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    } catch (error) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${error.message}`);
    }
  });
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
