// Galien — the teleconsultation call page (ACT-1). Plain JavaScript, no dependency.
// Camera/microphone test, then the signaling socket (/consultations/{id}/ws): the waiting room,
// then a WebRTC mesh (up to 4 people) where every page already in the call offers to a newcomer.
// Media go peer to peer (or through TURN), always encrypted by DTLS-SRTP; the page shows which.
// Chat and documents go through Galien (stored encrypted in the patient's record).
// Test hooks: #call[data-state], .tile.remote[data-ice][data-path][data-dtls].
(function () {
  'use strict';
  var root = document.getElementById('call');
  if (!root) { return; }
  var d = root.dataset;
  function msg(key) {
    var name = 'msg' + key.split('-').map(function (w) { return w.charAt(0).toUpperCase() + w.slice(1); }).join('');
    return d[name] || key;
  }
  function $(id) { return document.getElementById(id); }
  var isPractitioner = d.practitioner === 'true';
  var localStream = new MediaStream();
  var ws = null;
  var me = null;
  var admitted = false;
  var over = false;
  var opened = false;
  var backoff = 500;
  var ice = { iceServers: [] };
  var peers = new Map();
  var pingTimer = null;

  function say(id, text) { var el = $(id); if (el) { el.textContent = text; } }
  function showError(text) {
    var el = $('call-error');
    el.textContent = text;
    el.hidden = !text;
  }
  function setState(s) { d.state = s; }

  // ---- Camera and microphone test ----------------------------------------------------------
  function meter(stream) {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx || stream.getAudioTracks().length === 0) { return; }
      var ctx = new Ctx();
      var analyser = ctx.createAnalyser();
      analyser.fftSize = 256;
      ctx.createMediaStreamSource(stream).connect(analyser);
      var data = new Uint8Array(analyser.frequencyBinCount);
      var bar = $('mic-level');
      var box = $('mic-meter');
      var tick = function () {
        analyser.getByteFrequencyData(data);
        var sum = 0;
        for (var i = 0; i < data.length; i++) { sum += data[i]; }
        var level = Math.min(100, Math.round((sum / data.length) * 100 / 128));
        bar.style.width = level + '%';
        box.setAttribute('aria-valuenow', String(level));
        if (d.state === 'setup') { window.requestAnimationFrame(tick); } else { ctx.close(); }
      };
      tick();
    } catch (e) { /* the meter is a comfort only */ }
  }

  // Settles once the camera and microphone are ready, or known to be unavailable: the call waits
  // for it, so that the first offer carries the tracks.
  function setup() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say('setup-status', msg('no-media'));
      return Promise.resolve();
    }
    return navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } })
      .then(function (stream) {
        localStream = stream;
        $('preview').srcObject = stream;
        say('setup-status', msg('media-ok'));
        meter(stream);
      })
      .catch(function () { say('setup-status', msg('no-media')); });
  }

  $('join').addEventListener('click', function () {
    $('join').disabled = true;
    setState('connecting');
    ready.then(function () {
      $('setup').hidden = true;
      connect();
    });
  });

  var ready = setup();

  // ---- Signaling ---------------------------------------------------------------------------
  function send(m) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(m)); }
  }

  function connect() {
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    opened = false;
    say('call-status', msg('connecting'));
    ws = new WebSocket(proto + '//' + location.host + d.ws);
    ws.onopen = function () {
      opened = true;
      backoff = 500;
      showError('');
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { send({ type: 'ping' }); }, 20000);
    };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      onMessage(m);
    };
    ws.onclose = function (ev) {
      clearInterval(pingTimer);
      Array.from(peers.keys()).forEach(dropPeer);
      if (ev.code === 4002) { return end(msg('closed')); }
      if (ev.code === 4001) { return end(msg('session')); }
      if (over) { return; }
      setState('reconnecting');
      say('call-status', msg('reconnecting'));
      var retry = function () { setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 8000); };
      if (opened) { return retry(); }
      // The handshake was refused: the page says why (closed call, ended session…).
      fetch(location.href, { method: 'GET', credentials: 'same-origin', redirect: 'manual' })
        .then(function (r) {
          if (r.status === 410) { return end(msg('closed')); }
          if (r.status === 0 || r.type === 'opaqueredirect' || r.status === 401) { return end(msg('session')); }
          if (r.status >= 400 && r.status < 500) { return end(msg('closed')); }
          retry();
        })
        .catch(retry);
    };
  }

  function end(text) {
    over = true;
    setState('closed');
    clearInterval(pingTimer);
    Array.from(peers.keys()).forEach(dropPeer);
    localStream.getTracks().forEach(function (t) { t.stop(); });
    $('waiting').hidden = true;
    say('call-status', text);
    $('room').hidden = false;
    $('videos').hidden = true;
    document.querySelectorAll('#chat-form, #doc-form, .controls button').forEach(function (el) { el.hidden = true; });
    if (ws) { try { ws.close(); } catch (e) { /* closed */ } }
  }

  function onMessage(m) {
    switch (m.type) {
      case 'welcome':
        me = m.you;
        d.peer = me;
        if (m.ice && Array.isArray(m.ice.iceServers)) { ice = m.ice; }
        admitted = !!m.admitted;
        if (admitted) { showRoom(); } else { showWaiting(); }
        break;
      case 'admitted':
        admitted = true;
        showRoom();
        break;
      case 'peer-joined':
        dropParticipant(m.participant);
        createPeer(m.from || m.peer, m.name, m.participant, true);
        break;
      case 'peer-left':
        dropPeer(m.peer);
        break;
      case 'offer':
        onOffer(m);
        break;
      case 'answer':
        onAnswer(m);
        break;
      case 'candidate':
        onCandidate(m.from, m.candidate);
        break;
      case 'lobby':
        renderLobby(m.waiting || []);
        break;
      case 'chat-history':
        $('chat-list').textContent = '';
        (m.lines || []).forEach(addChat);
        break;
      case 'chat':
        addChat(m.line);
        break;
      case 'document':
        addDoc(m);
        break;
      case 'closed':
        end(msg('closed'));
        break;
      case 'error':
        showError(m.code + ' — ' + m.message);
        break;
      default:
        break;
    }
  }

  function showWaiting() {
    setState('waiting');
    $('waiting').hidden = false;
    $('room').hidden = true;
    say('call-status', msg('waiting'));
  }

  function showRoom() {
    setState('in-call');
    $('waiting').hidden = true;
    $('room').hidden = false;
    $('chat').hidden = false;
    $('docs').hidden = false;
    $('local').srcObject = localStream;
    updateStatus();
  }

  // ---- The mesh ----------------------------------------------------------------------------
  function tileFor(id, name) {
    var fig = document.createElement('figure');
    fig.className = 'tile remote';
    fig.dataset.peer = id;
    fig.dataset.ice = 'new';
    var video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    var cap = document.createElement('figcaption');
    var who = document.createElement('span');
    who.textContent = name || '…';
    var st = document.createElement('span');
    st.className = 'link-state';
    cap.appendChild(who);
    cap.appendChild(document.createTextNode(' '));
    cap.appendChild(st);
    fig.appendChild(video);
    fig.appendChild(cap);
    $('videos').appendChild(fig);
    return { fig: fig, video: video, who: who, state: st };
  }

  function createPeer(id, name, participant, initiator) {
    if (!id || id === me) { return null; }
    if (peers.has(id)) { return peers.get(id); }
    var pc = new RTCPeerConnection(ice);
    var p = { pc: pc, participant: participant, name: name, tile: tileFor(id, name), queue: [] };
    peers.set(id, p);
    var tracks = localStream.getTracks();
    if (tracks.length) {
      tracks.forEach(function (t) { pc.addTrack(t, localStream); });
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
    pc.onicecandidate = function (e) {
      if (e.candidate && e.candidate.candidate) {
        send({ type: 'candidate', to: id, candidate: e.candidate.toJSON() });
      }
    };
    pc.ontrack = function (e) {
      p.tile.video.srcObject = e.streams && e.streams[0] ? e.streams[0] : new MediaStream([e.track]);
    };
    // DTLS completes after ICE, and the path may change (ICE restart): look again now and then.
    pc.onconnectionstatechange = function () {
      if (pc.connectionState === 'connected') { inspect(id, p); }
    };
    p.watch = setInterval(function () {
      if (pc.connectionState === 'connected') { inspect(id, p); }
    }, 2000);
    pc.oniceconnectionstatechange = function () {
      p.tile.fig.dataset.ice = pc.iceConnectionState;
      if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') {
        inspect(id, p);
      }
      if (pc.iceConnectionState === 'failed' && initiator) {
        pc.restartIce();
        offer(id, p, true);
      }
      updateStatus();
    };
    if (initiator) { offer(id, p, false); }
    return p;
  }

  function offer(id, p, restart) {
    p.pc.createOffer(restart ? { iceRestart: true } : {})
      .then(function (o) { return p.pc.setLocalDescription(o); })
      .then(function () { send({ type: 'offer', to: id, sdp: p.pc.localDescription.sdp }); })
      .catch(function (e) { showError(String(e)); });
  }

  function flush(p) {
    var q = p.queue;
    p.queue = [];
    q.forEach(function (c) { p.pc.addIceCandidate(c).catch(function () { /* stale */ }); });
  }

  function onOffer(m) {
    var p = peers.get(m.from);
    if (!p) {
      dropParticipant(m.participant);
      p = createPeer(m.from, m.name, m.participant, false);
      if (!p) { return; }
    }
    p.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp })
      .then(function () { flush(p); return p.pc.createAnswer(); })
      .then(function (a) { return p.pc.setLocalDescription(a); })
      .then(function () { send({ type: 'answer', to: m.from, sdp: p.pc.localDescription.sdp }); })
      .catch(function (e) { showError(String(e)); });
  }

  function onAnswer(m) {
    var p = peers.get(m.from);
    if (!p) { return; }
    p.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp })
      .then(function () { flush(p); })
      .catch(function (e) { showError(String(e)); });
  }

  function onCandidate(from, c) {
    var p = peers.get(from);
    if (!p || !c || !c.candidate) { return; }
    if (p.pc.remoteDescription) {
      p.pc.addIceCandidate(c).catch(function () { /* stale */ });
    } else {
      p.queue.push(c);
    }
  }

  function dropPeer(id) {
    var p = peers.get(id);
    if (!p) { return; }
    peers.delete(id);
    clearInterval(p.watch);
    try { p.pc.close(); } catch (e) { /* closed */ }
    if (p.tile.fig.parentNode) { p.tile.fig.parentNode.removeChild(p.tile.fig); }
    updateStatus();
  }

  function dropParticipant(participant) {
    if (!participant) { return; }
    peers.forEach(function (p, id) { if (p.participant === participant) { dropPeer(id); } });
  }

  // How media flow (direct or through TURN) and whether DTLS-SRTP is up, from the browser's stats.
  function inspect(id, p) {
    p.pc.getStats().then(function (stats) {
      var pair = null;
      var transport = null;
      stats.forEach(function (s) { if (s.type === 'transport') { transport = s; } });
      stats.forEach(function (s) {
        if (transport && s.id === transport.selectedCandidatePairId) { pair = s; }
      });
      if (!pair) {
        stats.forEach(function (s) { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') { pair = s; } });
      }
      var path = 'direct';
      if (pair) {
        var local = stats.get(pair.localCandidateId);
        var remote = stats.get(pair.remoteCandidateId);
        if ((local && local.candidateType === 'relay') || (remote && remote.candidateType === 'relay')) { path = 'relayed'; }
      }
      var dtls = transport && transport.dtlsState === 'connected' ? 'connected' : (transport ? transport.dtlsState : 'unknown');
      p.tile.fig.dataset.path = path;
      p.tile.fig.dataset.dtls = dtls;
      p.tile.fig.dataset.cipher = transport && transport.srtpCipher ? transport.srtpCipher : '';
      p.tile.state.textContent = '— ' + msg(path) + (dtls === 'connected' ? ', ' + msg('encrypted') : '');
      if (p.reported !== path) {
        p.reported = path;
        send({ type: 'media', with: id, path: path });
      }
      updateStatus();
    }).catch(function () { /* stats are informative */ });
  }

  function updateStatus() {
    if (d.state !== 'in-call') { return; }
    if (peers.size === 0) { say('call-status', msg('alone')); return; }
    var parts = [];
    peers.forEach(function (p) {
      var path = p.tile.fig.dataset.path;
      var line = msg('connection') + ' ' + (p.name || '…') + ' : ' + (path ? msg(path) : p.pc.iceConnectionState);
      if (p.tile.fig.dataset.dtls === 'connected') { line += ', ' + msg('encrypted'); }
      parts.push(line);
    });
    say('call-status', msg('in-call') + ' — ' + parts.join(' ; '));
  }

  // ---- Waiting room (the médecin) ----------------------------------------------------------
  function renderLobby(list) {
    var ul = $('lobby-list');
    if (!ul) { return; }
    ul.textContent = '';
    $('lobby-empty').hidden = list.length > 0;
    list.forEach(function (w) {
      var li = document.createElement('li');
      var name = document.createElement('span');
      name.textContent = w.name;
      li.appendChild(name);
      if (w.since) {
        var since = document.createElement('span');
        since.className = 'hint';
        var t = new Date(w.since);
        since.textContent = ' (' + msg('since') + ' ' + t.toLocaleTimeString(document.documentElement.lang || 'fr', { hour: '2-digit', minute: '2-digit' }) + ') ';
        li.appendChild(since);
      }
      var b = document.createElement('button');
      b.type = 'button';
      b.className = 'admit';
      b.dataset.participant = w.participant;
      b.textContent = msg('admit') + ' ' + w.name;
      b.addEventListener('click', function () { b.disabled = true; send({ type: 'admit', participant: w.participant }); });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }

  // ---- Chat and documents ------------------------------------------------------------------
  function addChat(line) {
    if (!line) { return; }
    var li = document.createElement('li');
    li.dataset.id = line.id;
    var who = document.createElement('strong');
    who.textContent = line.name;
    var when = document.createElement('time');
    when.dateTime = line.at;
    when.textContent = ' ' + new Date(line.at).toLocaleTimeString(document.documentElement.lang || 'fr', { hour: '2-digit', minute: '2-digit' }) + ' ';
    var text = document.createElement('p');
    text.textContent = line.text;
    li.appendChild(who);
    li.appendChild(when);
    li.appendChild(text);
    var list = $('chat-list');
    if (!list.querySelector('li[data-id="' + line.id + '"]')) { list.appendChild(li); }
  }

  $('chat-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var t = $('chat-text');
    if (!t.value.trim()) { return; }
    send({ type: 'chat', text: t.value });
    t.value = '';
  });

  function addDoc(m) {
    var list = $('doc-list');
    if (list.querySelector('li[data-id="' + m.id + '"]')) { return; }
    var li = document.createElement('li');
    li.dataset.id = m.id;
    var a = document.createElement('a');
    a.href = m.url;
    a.textContent = m.name;
    li.appendChild(a);
    li.appendChild(document.createTextNode(' (' + Math.max(1, Math.round(m.size / 1024)) + ' Kio' + (m.author ? ', ' + m.author : '') + ')'));
    list.appendChild(li);
  }

  $('doc-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var input = $('doc-file');
    var file = input.files && input.files[0];
    if (!file) { return; }
    say('doc-status', msg('uploading'));
    fetch(d.docs, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/octet-stream',
        'X-File-Name': encodeURIComponent(file.name),
        'X-CSRF-Token': d.csrf,
        'X-Requested-With': 'galien'
      },
      body: file
    }).then(function (r) {
      if (r.ok) { say('doc-status', msg('uploaded')); input.value = ''; return null; }
      return r.json().then(function (j) { say('doc-status', j.code + ' — ' + j.message); });
    }).catch(function (err) { say('doc-status', String(err)); });
  });

  // ---- Controls ----------------------------------------------------------------------------
  $('mute').addEventListener('click', function () {
    var b = this;
    var muted = b.getAttribute('aria-pressed') !== 'true';
    localStream.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
    b.setAttribute('aria-pressed', String(muted));
    b.textContent = muted ? msg('unmute') : msg('mute');
  });
  $('camera').addEventListener('click', function () {
    var b = this;
    var off = b.getAttribute('aria-pressed') !== 'true';
    localStream.getVideoTracks().forEach(function (t) { t.enabled = !off; });
    b.setAttribute('aria-pressed', String(off));
    b.textContent = off ? msg('camera-on') : msg('camera-off');
  });
  $('leave').addEventListener('click', function () {
    over = true;
    if (ws) { ws.close(); }
  });

}());
