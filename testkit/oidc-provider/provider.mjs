// A real, independent OpenID Connect provider for Galien's tests (panva/oidc-provider, certified).
//
// Configuration: a JSON document, given as the first argument (a path to a file, or the JSON itself
// when it starts with "{"), or in the environment variable GALIEN_OIDC_PROVIDER_CONFIG (same forms).
//
//   {
//     "port": 0,                        // 0: the system picks a free port (race-free)
//     "host": "127.0.0.1",              // the issuer's host name; it always listens on 127.0.0.1
//     "issuer": null,                   // default http://<host>:<port>
//     "acr_values": ["eidas1", "eidas2", "eidas3"],
//     "clients": [{ "client_id": "galien", "client_secret": "…", "redirect_uris": ["…"],
//                   "token_endpoint_auth_method": "client_secret_basic",
//                   "post_logout_redirect_uris": [], "id_token_signed_response_alg": "RS256" }],
//     "accounts": [{ "sub": "810000000001", "given_name": "Claire", "family_name": "Martin",
//                    "email": "claire.martin@example.test", "rpps": "10000000001",
//                    "acr": "eidas1", "amr": ["pwd", "otp"] }],
//     "listen_delay_ms": 0              // tests of the harness only: listen that much later
//   }
//
// When it listens it prints one line to stdout:
//   oidc-provider ready {"issuer":"http://127.0.0.1:PORT","port":PORT}
//
// Interactions are deliberately minimal and have no consent page:
//   GET  /interaction/:uid         a small HTML form: field "login" (an account's sub), hidden "acr"
//                                  and "amr" (empty: the account's own; set them to simulate a
//                                  provider that asserts something else, e.g. one factor only)
//   POST /interaction/:uid/login   logs the account in with its acr/amr and grants the requested
//                                  scopes and claims at once (no consent click)
//   POST /interaction/:uid/abort   ends the interaction with error=access_denied
// When a session already exists and only consent is missing, GET /interaction/:uid grants it and
// redirects straight back.

import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

function readConfig() {
  const raw = process.argv[2] ?? process.env.GALIEN_OIDC_PROVIDER_CONFIG;
  if (!raw) {
    throw new Error('usage: node provider.mjs <config.json | JSON> (or GALIEN_OIDC_PROVIDER_CONFIG)');
  }
  const text = raw.trimStart().startsWith('{') ? raw : readFileSync(raw, 'utf8');
  return JSON.parse(text);
}

const config = readConfig();
const accounts = new Map((config.accounts ?? []).map((a) => [a.sub, a]));
const acrValues = config.acr_values ?? ['eidas1', 'eidas2', 'eidas3'];

function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rs256-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `es256-${randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' },
  ];
}

function clientMetadata(c) {
  const metadata = {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  };
  if (c.id_token_signed_response_alg) {
    metadata.id_token_signed_response_alg = c.id_token_signed_response_alg;
  }
  return metadata;
}

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (ch) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[ch]);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 64 * 1024) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function loginPage(res, { uid, clientId, scope, error, status = 200 }) {
  const options = [...accounts.values()]
    .map((a) => `<li><code>${escapeHtml(a.sub)}</code> ${escapeHtml(a.given_name)} ${escapeHtml(a.family_name)}</li>`)
    .join('');
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; form-action 'self' http: https:",
  });
  res.end(`<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>Fournisseur d'identité de test</title></head>
<body>
<h1>Fournisseur d'identité de test</h1>
<p>Client : <code id="client">${escapeHtml(clientId)}</code> — portée : <code id="scope">${escapeHtml(scope)}</code></p>
${error ? `<p id="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <label for="login">Identifiant</label>
  <input id="login" name="login" type="text" required>
  <input id="acr" name="acr" type="hidden" value="">
  <input id="amr" name="amr" type="hidden" value="">
  <button id="submit" type="submit">Se connecter</button>
</form>
<form id="abort-form" method="post" action="/interaction/${escapeHtml(uid)}/abort">
  <button id="abort" type="submit">Annuler</button>
</form>
<ul id="accounts">${options}</ul>
</body>
</html>`);
}

// A grant holding everything the authorization request asks for (what a consent click would give).
async function grantFor(provider, details, accountId) {
  const { params, prompt } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (prompt.name === 'consent') {
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  } else {
    if (params.scope) grant.addOIDCScope(params.scope);
    if (params.claims) {
      const requested = JSON.parse(params.claims);
      const names = new Set([
        ...Object.keys(requested.id_token ?? {}),
        ...Object.keys(requested.userinfo ?? {}),
      ]);
      if (names.size) grant.addOIDCClaims([...names]);
    }
  }
  return grant.save();
}

const server = http.createServer();
const listen = (callback) => server.listen(config.port ?? 0, '127.0.0.1', callback);
// `listen_delay_ms` (tests of the harness only): listen that much later, as a stuck start would.
const listenWhenDue = (callback) =>
  config.listen_delay_ms ? setTimeout(() => listen(callback), config.listen_delay_ms) : listen(callback);
listenWhenDue(() => {
  const { port } = server.address();
  const issuer = config.issuer ?? `http://${config.host ?? '127.0.0.1'}:${port}`;

  const provider = new Provider(issuer, {
    clients: (config.clients ?? []).map(clientMetadata),
    jwks: { keys: signingKeys() },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    acrValues,
    // Scope claims (profile, email, rpps) go in the ID token too, not only at userinfo: the RP can
    // decide from the ID token alone.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'rpps'],
    claims: {
      // acr, amr and auth_time are released with every ID token, as the RP needs them to decide.
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['given_name', 'family_name', 'name'],
      email: ['email', 'email_verified'],
      rpps: ['rpps'],
      sid: null,
      iss: null,
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          const claims = { sub };
          if (account.given_name !== undefined) claims.given_name = account.given_name;
          if (account.family_name !== undefined) claims.family_name = account.family_name;
          if (account.given_name !== undefined || account.family_name !== undefined) {
            claims.name = [account.given_name, account.family_name].filter(Boolean).join(' ');
          }
          if (account.email !== undefined) {
            claims.email = account.email;
            claims.email_verified = true;
          }
          if (account.rpps !== undefined) claims.rpps = account.rpps;
          return claims;
        },
      };
    },
  });
  // Errors are answered to the RP as OAuth errors; print them too, for whoever reads the test log.
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

  const oidc = provider.callback();

  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|abort))?$/);
    if (!match) {
      oidc(req, res);
      return;
    }
    const [, uid, action] = match;
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== uid) throw new Error('interaction mismatch');
      const { prompt, params, session } = details;

      if (req.method === 'GET' && !action) {
        if (prompt.name === 'consent' && session?.accountId) {
          const grantId = await grantFor(provider, details, session.accountId);
          await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
          return;
        }
        loginPage(res, { uid, clientId: params.client_id, scope: params.scope });
        return;
      }

      if (req.method === 'POST' && action === 'abort') {
        await provider.interactionFinished(req, res, {
          error: 'access_denied',
          error_description: 'End-User aborted interaction',
        }, { mergeWithLastSubmission: false });
        return;
      }

      if (req.method === 'POST' && action === 'login') {
        const form = await readForm(req);
        const accountId = form.get('login') ?? '';
        const account = accounts.get(accountId);
        if (!account) {
          loginPage(res, {
            uid, clientId: params.client_id, scope: params.scope, error: 'Identifiant inconnu', status: 401,
          });
          return;
        }
        const acr = form.get('acr') || account.acr || acrValues[0];
        const amrField = form.get('amr');
        const amr = amrField ? amrField.split(/[\s,]+/).filter(Boolean) : (account.amr ?? ['pwd']);
        const login = { accountId, acr, amr, remember: true };
        const grantId = await grantFor(provider, details, accountId);
        await provider.interactionFinished(req, res, { login, consent: { grantId } }, { mergeWithLastSubmission: false });
        return;
      }

      res.writeHead(405, { 'content-type': 'text/plain' });
      res.end('method not allowed\n');
    } catch (err) {
      console.error('oidc-provider interaction error:', err);
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`interaction error: ${err.message}\n`);
    }
  });

  process.stdout.write(`oidc-provider ready ${JSON.stringify({ issuer, port })}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
