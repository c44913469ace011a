// Security keys and passkeys (WebAuthn) for Galien's pages. No inline script (the CSP forbids it):
// each page marks a section with data-webauthn="register" or "login", the session's CSRF token in
// data-csrf and its messages (in the page's language) in data-msg-*. The server's answers carry
// binary fields in base64url; the browser's API wants ArrayBuffers.
(function () {
  'use strict';

  function fromB64u(s) {
    var b64 = s.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) { b64 += '='; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64u(buf) {
    var bytes = new Uint8Array(buf);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function creationOptions(options) {
    var pk = options.publicKey;
    pk.challenge = fromB64u(pk.challenge);
    pk.user.id = fromB64u(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(options) {
    var pk = options.publicKey;
    pk.challenge = fromB64u(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) { c.id = fromB64u(c.id); });
    return { publicKey: pk };
  }

  function attestationJson(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: toB64u(r.attestationObject),
        clientDataJSON: toB64u(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  function assertionJson(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64u(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64u(r.authenticatorData),
        clientDataJSON: toB64u(r.clientDataJSON),
        signature: toB64u(r.signature),
        userHandle: r.userHandle ? toB64u(r.userHandle) : null
      },
      extensions: cred.getClientExtensionResults()
    };
  }

  // Says something in the section's live region (role="alert"): an error, or what to do now.
  function say(section, text, isError) {
    var region = section.querySelector('[data-webauthn-status]');
    if (!region) { return; }
    region.textContent = '';
    if (!text) { return; }
    var box = document.createElement('div');
    box.className = isError ? 'notice error' : 'notice';
    var p = document.createElement('p');
    p.textContent = text;
    box.appendChild(p);
    region.appendChild(box);
  }

  function ServerError(message) { this.message = message; }

  function post(section, url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'content-type': 'application/json',
        'accept': 'application/json',
        'x-csrf-token': section.dataset.csrf || ''
      },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) { throw new ServerError(data.message || section.dataset.msgFailed); }
        return data;
      });
    });
  }

  function explain(section, err) {
    if (err instanceof ServerError) { return err.message; }
    if (window.console) { console.warn('WebAuthn:', err && err.name, err && err.message); }
    if (err && (err.name === 'NotAllowedError' || err.name === 'AbortError')) {
      return section.dataset.msgCancelled;
    }
    return section.dataset.msgFailed;
  }

  function showRecoveryCodes(codes) {
    var panel = document.getElementById('webauthn-recovery');
    var list = panel && panel.querySelector('[data-webauthn-codes]');
    if (!panel || !list) { window.location.assign('/account'); return; }
    codes.forEach(function (code) {
      var li = document.createElement('li');
      var c = document.createElement('code');
      c.textContent = code;
      li.appendChild(c);
      list.appendChild(li);
    });
    var main = panel.parentElement;
    Array.prototype.forEach.call(main.children, function (child) {
      // Page styles may set `display` (forms are grids), which beats the hidden attribute alone.
      if (child !== panel && child.tagName !== 'SCRIPT') { child.hidden = true; child.style.display = 'none'; }
    });
    panel.hidden = false;
    document.title = panel.querySelector('h1').textContent + ' — Galien';
    panel.focus();
  }

  function register(section) {
    var nameInput = section.querySelector('[data-webauthn-name]');
    var state;
    return post(section, '/webauthn/register/begin').then(function (ceremony) {
      state = ceremony.state;
      say(section, section.dataset.msgWaiting, false);
      return navigator.credentials.create(creationOptions(ceremony.options));
    }).then(function (cred) {
      return post(section, '/webauthn/register/finish', {
        credential: attestationJson(cred),
        state: state,
        name: nameInput ? nameInput.value : ''
      });
    }).then(function (done) {
      say(section, '', false);
      if (done.recovery_codes) {
        if (done.csrf) {
          Array.prototype.forEach.call(document.querySelectorAll('input[name="_csrf"]'), function (i) {
            i.value = done.csrf;
          });
        }
        showRecoveryCodes(done.recovery_codes);
      } else {
        window.location.assign(done.redirect || '/account');
      }
    });
  }

  function login(section) {
    var state;
    return post(section, '/webauthn/login/begin').then(function (ceremony) {
      state = ceremony.state;
      say(section, section.dataset.msgWaiting, false);
      return navigator.credentials.get(requestOptions(ceremony.options));
    }).then(function (cred) {
      return post(section, '/webauthn/login/finish', {
        credential: assertionJson(cred),
        state: state,
        next: section.dataset.next || null
      });
    }).then(function (done) {
      window.location.assign(done.redirect || '/account');
    });
  }

  function setUp(section) {
    var button = section.querySelector('[data-webauthn-start]');
    if (!button || section.dataset.webauthnReady) { return; }
    section.dataset.webauthnReady = '1';
    if (!window.PublicKeyCredential || !navigator.credentials) {
      button.disabled = true;
      say(section, section.dataset.msgUnsupported, true);
      return;
    }
    button.addEventListener('click', function () {
      if (button.getAttribute('aria-busy') === 'true') { return; }
      button.setAttribute('aria-busy', 'true');
      button.disabled = true;
      say(section, '', false);
      var run = section.dataset.webauthn === 'register' ? register : login;
      run(section).catch(function (err) {
        say(section, explain(section, err), true);
      }).then(function () {
        button.disabled = false;
        button.removeAttribute('aria-busy');
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-webauthn]'), setUp);
}());
