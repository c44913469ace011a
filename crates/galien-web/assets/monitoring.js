// Telemonitoring pages (ACT-3). No inline script (the CSP forbids it): the board marks its section
// with data-live (the WebSocket path) and data-rows (the table body's path), and its live region
// holds its messages (in the page's language) in data-msg-*.
//
// The socket only ever says "alerts": something changed. The page then fetches the table body
// (which goes through the same checks as the board) and swaps it in, unless the person is typing a
// decision, in which case it waits until they are done. It reconnects with a growing delay when the
// socket closes, and stops (saying so) when the server says the session is over.
(function () {
  'use strict';

  var SESSION_ENDED = 4001;

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function fill(text, value) { return (text || '').replace('{}', value); }

  function board(section) {
    var tbody = document.getElementById('alert-rows');
    var status = document.getElementById('board-status');
    var count = document.getElementById('alert-count');
    if (!tbody || !status) { return; }
    var socket = null;
    var delay = 1000;
    var stopped = false;
    var pending = false;
    var timer = null;
    var everConnected = false;

    // The socket's state, for styles and tests: connecting, open, closed, ended.
    function state(value) { section.setAttribute('data-live-state', value); }

    function say(key, value) {
      status.textContent = fill(status.getAttribute('data-msg-' + key), value);
    }

    function now() {
      var d = new Date();
      return pad(d.getHours()) + ':' + pad(d.getMinutes());
    }

    // Someone writing a decision (or with a decision form open) is not interrupted.
    function busy() {
      var active = document.activeElement;
      if (active && tbody.contains(active) && /^(TEXTAREA|SELECT|INPUT)$/.test(active.tagName)) {
        return true;
      }
      return tbody.querySelector('details[open]') !== null;
    }

    function swap(html) {
      var active = document.activeElement;
      var row = active && tbody.contains(active) ? active.closest('tr') : null;
      var rowId = row ? row.id : null;
      tbody.innerHTML = html;
      if (rowId) {
        var again = document.getElementById(rowId);
        var target = again ? again.querySelector('a, button, summary') : null;
        if (target) { target.focus(); }
      }
    }

    function refresh() {
      if (stopped) { return; }
      if (document.hidden || busy()) {
        if (!pending && !document.hidden) { say('waiting'); }
        pending = true;
        return;
      }
      pending = false;
      fetch(section.getAttribute('data-rows'), {
        credentials: 'same-origin',
        headers: { 'Accept': 'text/html' },
        cache: 'no-store',
        redirect: 'error'
      }).then(function (r) {
        if (r.status === 401 || r.status === 403) {
          stop();
          return null;
        }
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        var n = r.headers.get('x-galien-alerts');
        return r.text().then(function (html) {
          swap(html);
          if (count && n !== null) { count.textContent = n; }
          say('updated', now());
        });
      }).catch(function () {
        pending = true;
        say('offline');
      });
    }

    function soon() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { timer = null; refresh(); }, 200);
    }

    function stop() {
      stopped = true;
      state('ended');
      say('ended');
      if (socket) { try { socket.close(); } catch (e) { /* already closed */ } }
    }

    function connect() {
      if (stopped) { return; }
      var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
      socket = new WebSocket(scheme + location.host + section.getAttribute('data-live'));
      state('connecting');
      socket.onopen = function () {
        state('open');
        delay = 1000;
        // Changes made while the socket was down are read now.
        if (everConnected) { soon(); }
        everConnected = true;
      };
      socket.onmessage = function () { soon(); };
      socket.onclose = function (event) {
        socket = null;
        if (stopped) { return; }
        if (event.code === SESSION_ENDED) { stop(); return; }
        state('closed');
        say('offline');
        var wait = delay + Math.floor(Math.random() * 500);
        delay = Math.min(delay * 2, 30000);
        setTimeout(connect, wait);
      };
    }

    // Once the person is done with a decision, apply what arrived meanwhile.
    tbody.addEventListener('focusout', function () {
      if (pending) { setTimeout(function () { if (pending) { refresh(); } }, 0); }
    });
    tbody.addEventListener('toggle', function () {
      if (pending) { refresh(); }
    }, true);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && pending) { refresh(); }
    });
    connect();
  }

  // The patient's form: the unit follows the measure chosen, unless it was changed by hand.
  function measureForm(form) {
    var select = form.querySelector('#measure');
    var unit = form.querySelector('#unit');
    if (!select || !unit) { return; }
    var previous = select.options[select.selectedIndex].getAttribute('data-unit');
    select.addEventListener('change', function () {
      var next = select.options[select.selectedIndex].getAttribute('data-unit');
      if (unit.value.trim() === '' || unit.value === previous) { unit.value = next; }
      previous = next;
    });
  }

  function start() {
    var section = document.querySelector('[data-live][data-rows]');
    if (section && 'WebSocket' in window && 'fetch' in window) { board(section); }
    var form = document.getElementById('measure-form');
    if (form) { measureForm(form); }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
