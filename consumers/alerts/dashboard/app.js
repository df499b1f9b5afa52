/* global sessionStorage, document, fetch, setTimeout, clearTimeout, AbortController, TextDecoder */
// Tablero de alertas de la ST: SSE (fetch con encabezado Authorization), detalle, acuse y gráficas SVG.
// Sin dependencias externas: funciona sin internet.
(function () {
  'use strict';
  var SEV = { Extreme: 'Extrema', Severe: 'Grave', Moderate: 'Moderada', Minor: 'Menor', Unknown: 'Desconocida' };
  var MSG = { Alert: 'Alerta', Update: 'Actualización', Cancel: 'Cancelación', Ack: 'Acuse', Error: 'Error' };
  var URG = { Immediate: 'Inmediata', Expected: 'Esperada', Future: 'Futura', Past: 'Pasada', Unknown: 'Desconocida' };
  var CERT = { Observed: 'Observada', Likely: 'Probable', Possible: 'Posible', Unlikely: 'Improbable', Unknown: 'Desconocida' };
  var STATUS = { Actual: 'Real', Exercise: 'Simulacro', System: 'Sistema', Test: 'Prueba', Draft: 'Borrador' };
  var state = { token: sessionStorage.getItem('st-token') || '', alerts: new Map(), order: [], lastSeq: null, selected: null, abort: null, retryMs: 2000 };
  var $ = function (id) { return document.getElementById(id); };

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; });
  }
  function when(iso) {
    try { return new Date(iso).toLocaleString('es-GT', { timeZone: 'America/Guatemala', hour12: false }); } catch { return iso; }
  }
  function api(path, init) {
    init = init || {};
    init.headers = Object.assign({ authorization: 'Bearer ' + state.token }, init.headers || {});
    return fetch(path, init).then(function (r) {
      if (r.status === 401) { setConn(false, 'Token inválido'); throw new Error('401'); }
      return r;
    });
  }
  function setConn(on, text) {
    var el = $('conn');
    el.className = 'conn ' + (on ? 'on' : 'off');
    el.textContent = text || (on ? 'Conectado' : 'Desconectado');
  }

  function upsert(item, prepend) {
    var known = state.alerts.has(item.identifier);
    state.alerts.set(item.identifier, item);
    if (!known) { if (prepend) state.order.unshift(item.identifier); else state.order.push(item.identifier); }
    if (!state.lastSeq || Number(item.seq) > Number(state.lastSeq)) state.lastSeq = item.seq;
  }

  function renderFeed() {
    var filter = $('sev-filter').value;
    var html = '';
    state.order.forEach(function (id) {
      var it = state.alerts.get(id);
      var a = it.alert;
      if (filter && a.info.severity !== filter) return;
      html += '<li data-id="' + esc(id) + '" data-seq="' + esc(it.seq) + '" class="alert sev-' + esc(a.info.severity) + (state.selected === id ? ' selected' : '') + '">' +
        '<div><span class="badge ' + esc(a.info.severity) + '">' + esc(SEV[a.info.severity] || a.info.severity) + '</span> ' +
        (a.status !== 'Actual' ? '<span class="badge exercise">' + esc(STATUS[a.status] || a.status) + '</span> ' : '') +
        '<strong class="headline">' + esc(a.info.headline) + '</strong></div>' +
        '<div class="meta"><span>' + esc(MSG[a.msgType] || a.msgType) + '</span><span>' + esc(when(a.sent)) + '</span><span>' + esc(it.sourceInstitution) + '</span><span>' + esc(a.area.areaDesc) + '</span>' +
        (it.ack ? '<span class="badge acked">Acusada</span>' : '<span class="badge pending">Sin acuse</span>') + '</div></li>';
    });
    $('feed').innerHTML = html;
    $('empty').style.display = state.order.length ? 'none' : '';
  }

  function renderDetail() {
    var it = state.selected && state.alerts.get(state.selected);
    if (!it) { $('detail').innerHTML = '<p class="muted">Seleccione una alerta de la lista.</p>'; return; }
    var a = it.alert;
    var src = a.sourceEvents.map(function (s) {
      return '<tr><td>' + esc(s.type) + '</td><td>' + esc(s.source) + '</td><td><code>' + esc(s.eventId) + '</code></td><td>' + esc(s.topic + '/' + s.partition + '/' + s.offset) + '</td></tr>';
    }).join('');
    $('detail').innerHTML =
      '<h3 id="detail-headline">' + esc(a.info.headline) + '</h3>' +
      '<p><span class="badge ' + esc(a.info.severity) + '">' + esc(SEV[a.info.severity]) + '</span> ' + esc(MSG[a.msgType]) + ' · ' + esc(STATUS[a.status]) + '</p>' +
      '<p>' + esc(a.info.description) + '</p>' +
      (a.info.instruction ? '<p><strong>Instrucción:</strong> ' + esc(a.info.instruction) + '</p>' : '') +
      '<dl><dt>Identificador</dt><dd><code>' + esc(a.identifier) + '</code></dd>' +
      '<dt>Emitida</dt><dd>' + esc(when(a.sent)) + '</dd>' +
      '<dt>Urgencia / certeza</dt><dd>' + esc(URG[a.info.urgency] || a.info.urgency) + ' / ' + esc(CERT[a.info.certainty] || a.info.certainty) + '</dd>' +
      '<dt>Área</dt><dd>' + esc(a.area.areaDesc) + (a.area.departmentCode ? ' (depto. ' + esc(a.area.departmentCode) + ')' : '') + '</dd>' +
      '<dt>Regla</dt><dd>' + esc(a.rule) + '</dd>' +
      '<dt>Referencias</dt><dd>' + (a.references && a.references.length ? a.references.map(esc).join('<br>') : '—') + '</dd>' +
      '<dt>Acuse</dt><dd id="ack-state">' + (it.ack ? 'Acusada por ' + esc(it.ack.by) + ' el ' + esc(when(it.ack.at)) : 'Pendiente') + '</dd></dl>' +
      '<h3>Eventos de origen</h3><table><thead><tr><th>Tipo</th><th>Institución</th><th>Id</th><th>Posición</th></tr></thead><tbody>' + src + '</tbody></table>' +
      '<p><button id="ack-btn" type="button"' + (it.ack ? ' disabled' : '') + '>' + (it.ack ? 'Acuse registrado' : 'Acusar recibo') + '</button> ' +
      '<button id="cap-btn" type="button">Ver CAP XML</button></p><pre id="cap-xml" hidden></pre>';
    $('ack-btn').onclick = function () { acknowledge(a.identifier); };
    $('cap-btn').onclick = function () {
      api('/v1/alerts/' + encodeURIComponent(a.identifier) + '.cap').then(function (r) { return r.text(); }).then(function (x) {
        var pre = $('cap-xml'); pre.textContent = x; pre.hidden = false;
      });
    };
  }

  function acknowledge(id) {
    $('ack-btn').disabled = true;
    api('/v1/alerts/' + encodeURIComponent(id) + '/ack', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: 'Acusado desde el tablero' }) })
      .then(function (r) { return r.json(); })
      .then(function (it) { if (it && it.identifier) { upsert(it); renderFeed(); renderDetail(); } })
      .catch(function () { $('ack-btn').disabled = false; });
  }

  function bars(el, rows, labelOf) {
    if (!rows.length) { el.innerHTML = '<p class="muted">Sin alertas en las últimas 24 horas.</p>'; return; }
    var max = Math.max.apply(null, rows.map(function (r) { return r.count; }));
    var h = 22, w = 320, lw = 120;
    var svg = '<svg viewBox="0 0 ' + w + ' ' + (rows.length * h + 4) + '" role="img" aria-label="Gráfica de barras">';
    rows.forEach(function (r, i) {
      var bw = Math.max(2, Math.round((w - lw - 40) * r.count / max));
      svg += '<text x="' + (lw - 6) + '" y="' + (i * h + 15) + '" text-anchor="end" font-size="11">' + esc(labelOf(r)) + '</text>' +
        '<rect x="' + lw + '" y="' + (i * h + 3) + '" width="' + bw + '" height="' + (h - 6) + '" fill="#2b5ea7" rx="2"></rect>' +
        '<text x="' + (lw + bw + 4) + '" y="' + (i * h + 15) + '" font-size="11">' + r.count + '</text>';
    });
    el.innerHTML = svg + '</svg>';
  }

  var statsTimer = null;
  function loadStats() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(function () {
      api('/v1/alerts/stats?hours=24').then(function (r) { return r.json(); }).then(function (s) {
        bars($('chart-institution'), s.byInstitution, function (r) { return r.key; });
        bars($('chart-department'), s.byDepartment, function (r) { return r.name ? r.name : r.key; });
      }).catch(function () {});
    }, 300);
  }

  // Historical aggregate (query API /v1/history, also served here): two series over days, as an SVG line chart.
  function lines(el, rows) {
    if (!rows.length) { el.innerHTML = '<p class="muted">Sin datos en el periodo.</p>'; return; }
    var w = 420, h = 160, pad = 28;
    var max = Math.max(1, Math.max.apply(null, rows.map(function (r) { return Math.max(r.active, r.resolved); })));
    var x = function (i) { return pad + (rows.length === 1 ? 0 : i * (w - 2 * pad) / (rows.length - 1)); };
    var y = function (v) { return h - pad - v * (h - 2 * pad) / max; };
    var path = function (k) { return rows.map(function (r, i) { return (i ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(r[k]).toFixed(1); }).join(' '); };
    el.innerHTML = '<svg viewBox="0 0 ' + w + ' ' + h + '" role="img" aria-label="Alertas activas y resueltas por día">' +
      '<line x1="' + pad + '" y1="' + (h - pad) + '" x2="' + (w - pad) + '" y2="' + (h - pad) + '" stroke="#999"></line>' +
      '<text x="' + pad + '" y="' + (h - 8) + '" font-size="10">' + esc(rows[0].day) + '</text>' +
      '<text x="' + (w - pad) + '" y="' + (h - 8) + '" font-size="10" text-anchor="end">' + esc(rows[rows.length - 1].day) + '</text>' +
      '<text x="4" y="' + (pad - 8) + '" font-size="10">' + max + '</text>' +
      '<path d="' + path('active') + '" fill="none" stroke="#c0392b" stroke-width="2"></path>' +
      '<path d="' + path('resolved') + '" fill="none" stroke="#2b7a3d" stroke-width="2"></path>' +
      '<text x="' + (w - pad) + '" y="14" font-size="11" text-anchor="end"><tspan fill="#c0392b">■ activas ' + rows[rows.length - 1].active + '</tspan> <tspan fill="#2b7a3d">■ resueltas ' + rows[rows.length - 1].resolved + '</tspan></text></svg>';
  }

  function loadHistory() {
    var to = new Date(), from = new Date(to.getTime() - 30 * 86400000);
    api('/v1/history/alba-keneth?from=' + encodeURIComponent(from.toISOString()) + '&to=' + encodeURIComponent(to.toISOString()))
      .then(function (r) { return r.json(); })
      .then(function (body) { if (body && body.rows) lines($('chart-alba-history'), body.rows); })
      .catch(function () {});
  }

  function handleFrame(frame) {
    var ev = 'message', data = '', id = null;
    frame.split('\n').forEach(function (line) {
      if (line.indexOf('event:') === 0) ev = line.slice(6).trim();
      else if (line.indexOf('data:') === 0) data += line.slice(5).trim();
      else if (line.indexOf('id:') === 0) id = line.slice(3).trim();
      else if (line.indexOf('retry:') === 0) state.retryMs = Number(line.slice(6)) || state.retryMs;
    });
    if (!data) return;
    var payload = JSON.parse(data);
    if (ev === 'alert') { upsert(payload, true); if (id) state.lastSeq = id; renderFeed(); loadStats(); }
    else if (ev === 'ack') {
      var it = state.alerts.get(payload.identifier);
      if (it) { it.ack = payload.ack; renderFeed(); if (state.selected === payload.identifier) renderDetail(); }
    }
  }

  function stream() {
    if (state.abort) state.abort.abort();
    var ctl = new AbortController();
    state.abort = ctl;
    var headers = { authorization: 'Bearer ' + state.token, accept: 'text/event-stream' };
    if (state.lastSeq) headers['last-event-id'] = state.lastSeq;
    fetch('/v1/alerts/stream', { headers: headers, signal: ctl.signal }).then(function (res) {
      if (res.status === 401) { setConn(false, 'Token inválido'); return; }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setConn(true);
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = '';
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error('fin');
          buf += dec.decode(r.value, { stream: true });
          var i;
          while ((i = buf.indexOf('\n\n')) >= 0) { handleFrame(buf.slice(0, i)); buf = buf.slice(i + 2); }
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (ctl.signal.aborted) return;
      setConn(false, 'Reconectando…');
      setTimeout(stream, state.retryMs);
    });
  }

  function start() {
    api('/v1/alerts?limit=100').then(function (r) { return r.json(); }).then(function (body) {
      state.alerts.clear(); state.order = [];
      body.alerts.forEach(function (it) { upsert(it); });
      state.lastSeq = body.lastSeq;
      renderFeed(); renderDetail(); loadStats(); loadHistory(); stream();
    }).catch(function () {});
  }

  $('feed').addEventListener('click', function (e) {
    var li = e.target.closest('li[data-id]');
    if (!li) return;
    state.selected = li.getAttribute('data-id');
    renderFeed(); renderDetail();
  });
  $('sev-filter').addEventListener('change', renderFeed);
  $('login').addEventListener('submit', function (e) {
    e.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem('st-token', state.token);
    start();
  });
  if (state.token) { $('token').value = state.token; start(); }
})();
