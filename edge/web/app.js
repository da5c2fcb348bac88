/* surge booking page: plain ES2019, no dependencies. Steps: region, clinics, clinic, confirm,
   waiting (the queue), done. All UI strings live in T. */
(() => {
'use strict';

const T = {
  ko: {
    title: '예방접종 예약', skip: '본문으로 건너뛰기', langBtn: 'English', langLabel: 'Switch to English',
    back: '이전', region: '지역 선택', sido: '시/도', sigunguOf: '{0} · 시/군/구', clinicsN: '접종기관 {0}곳',
    asOf: '{0} 기준', loading: '불러오는 중…', clinicsOf: '{0} 접종기관', noClinics: '이 지역에는 접종기관이 없습니다.',
    soldOut: '매진', full: '마감', seats: '{0}석', dates: '날짜 선택', timesOf: '{0} 시간 선택',
    confirmTitle: '예약 확인', clinic: '접종기관', address: '주소', date: '날짜', time: '시간',
    personId: '예약자 ID', personHint: '영문, 숫자, . _ - 1–64자', confirm: '예약하기', booking: '예약하는 중…',
    busyRetry: '접속이 많습니다. {0}초 후 다시 시도합니다…', waitTitle: '대기 중',
    waitIntro: '순서대로 입장합니다. 차례가 되면 자동으로 예약합니다. 이 페이지를 닫지 마세요.',
    position: '내 대기 순번', eta: '예상 대기 시간', etaUnknown: '계산 중', now: '곧',
    openingIn: '대기열이 {0} 후 열립니다.', progress: '대기 진행률', min: '{0}분 {1}초', sec: '{0}초',
    joining: '대기열에 들어가는 중…', inQueue: '대기열에 들어왔습니다.', admitted: '차례가 되었습니다. 예약하는 중…',
    queueRetry: '대기 상태를 확인하지 못했습니다. 곧 다시 확인합니다.',
    doneTitle: '예약 완료', canceledTitle: '예약 취소됨', bookedSt: '예약이 완료되었습니다.', bookingId: '예약 번호',
    person: '예약자', cancel: '예약 취소', again: '다른 예약하기', canceling: '취소하는 중…',
    canceled: '예약이 취소되었습니다.', retry: '다시 시도', backToTimes: '시간 다시 고르기',
    wd: ['일', '월', '화', '수', '목', '금', '토'],
    e: {
      slot_full: '선택한 시간은 마감되었습니다. 다른 시간을 골라 주세요.',
      person_already_booked: '이미 예약하셨습니다.',
      ticket_already_used: '이 대기표로는 이미 예약했습니다.',
      person_id_empty: '예약자 ID를 입력해 주세요.',
      busy: '접속이 많아 예약하지 못했습니다. 다시 시도해 주세요.',
      network: '서버에 연결하지 못했습니다. 다시 시도해 주세요.',
      ticket: '대기열에 들어가지 못했습니다. 다시 시도해 주세요.',
      unknown_clinic: '없는 접종기관입니다.', unknown_slot: '없는 예약 시간입니다.',
      generic: '요청을 처리하지 못했습니다.'
    }
  },
  en: {
    title: 'Vaccination booking', skip: 'Skip to content', langBtn: '한국어', langLabel: '한국어로 보기',
    back: 'Back', region: 'Choose a region', sido: 'Province / city', sigunguOf: '{0} · district',
    clinicsN: '{0} clinics', asOf: 'As of {0}', loading: 'Loading…', clinicsOf: 'Clinics in {0}',
    noClinics: 'No clinics in this region.', soldOut: 'Sold out', full: 'Full', seats: '{0} left',
    dates: 'Choose a date', timesOf: 'Times on {0}', confirmTitle: 'Confirm booking', clinic: 'Clinic',
    address: 'Address', date: 'Date', time: 'Time', personId: 'Person ID',
    personHint: 'Letters, digits, . _ -; 1–64 characters', confirm: 'Book', booking: 'Booking…',
    busyRetry: 'Busy, retrying in {0} s…', waitTitle: 'Waiting room',
    waitIntro: 'People are let in by turn. When it is yours, the booking goes on by itself. Keep this page open.',
    position: 'Your place in line', eta: 'Estimated wait', etaUnknown: 'calculating', now: 'now',
    openingIn: 'The queue opens in {0}.', progress: 'Queue progress', min: '{0} min {1} s', sec: '{0} s',
    joining: 'Joining the queue…', inQueue: 'You are in the queue.', admitted: 'Your turn. Booking…',
    queueRetry: 'Could not check the queue; trying again shortly.',
    doneTitle: 'Booked', canceledTitle: 'Booking canceled', bookedSt: 'Your booking is confirmed.',
    bookingId: 'Booking ID', person: 'Person ID', cancel: 'Cancel booking', again: 'Book another',
    canceling: 'Canceling…', canceled: 'Your booking has been canceled.', retry: 'Try again',
    backToTimes: 'Choose another time', wd: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
    e: {
      slot_full: 'That time is sold out. Please choose another time.',
      person_already_booked: 'You already have a booking.',
      ticket_already_used: 'This queue ticket has already been used for a booking.',
      person_id_empty: 'Please enter a person ID.',
      busy: 'The service is busy; the booking did not go through. Please try again.',
      network: 'Could not reach the server. Please try again.',
      ticket: 'Could not join the queue. Please try again.',
      unknown_clinic: 'No such clinic.', unknown_slot: 'No such time slot.',
      generic: 'The request could not be completed.'
    }
  }
};

const MAX_TRIES = 10, MAX_REJOINS = 3, STEPS = ['region', 'clinics', 'clinic', 'confirm', 'waiting', 'done'];
const S = { lang: 'ko', step: 'region', gen: 0, timers: [], busy: false, tries: 0, rejoins: 0, qErr: 0 };
// S also holds: regions, sido, sgg, clinics, clinic (snapshot), date, time, key, keyBody, q, qAt,
// qStart, st (status), err, booked.

const $ = (id) => document.getElementById(id);
const t = (k, ...a) => String(k in T[S.lang] ? T[S.lang][k] : k).replace(/\{(\d)\}/g, (_, i) => a[i]);
const sum = (a) => a.reduce((x, y) => x + (y || 0), 0);
const jit = (lo, hi) => (lo + Math.random() * (hi - lo)) * 1000;
const pad = (n) => String(n).padStart(2, '0');
const ss = (fn) => { try { return fn(sessionStorage); } catch (e) { return null; } };
function h(tag, attrs, kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'on') el.addEventListener('click', v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids || []) if (c != null) el.append(c);
  return el;
}
const fill = (el, kids) => { el.textContent = ''; el.append(...kids); };

// ---- formatting ----
function fmtDate(s, long) {
  const [y, m, d] = s.split('-').map(Number), w = T[S.lang].wd[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return `${long ? s : m + '/' + d} (${w})`;
}
function fmtStamp(iso) {
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
const dur = (s) => (s = Math.max(0, Math.round(s))) < 60 ? t('sec', s) : t('min', Math.floor(s / 60), s % 60);
function raSec(v) {
  let n = parseInt(v, 10);
  if (!isFinite(n) && v) n = Math.ceil((Date.parse(v) - Date.now()) / 1000);
  return isFinite(n) ? Math.min(60, Math.max(1, n)) : 2;
}

// ---- timers: navigating bumps S.gen, which cancels whatever the old step was doing ----
function later(fn, ms) {
  const g = S.gen, id = setTimeout(() => {
    S.timers = S.timers.filter((x) => x !== id);
    if (g === S.gen) fn();
  }, ms);
  S.timers.push(id);
}
function cancelFlow() {
  S.gen++;
  S.timers.forEach(clearTimeout);
  S.timers = [];
  setBusy(false);
  clearError();
  setStatus(null);
}
function setBusy(b) {
  S.busy = b;
  $('confirm').disabled = b;
  $('confirm-form').setAttribute('aria-busy', String(b));
}

// ---- status (aria-live) and errors (role=alert, data-code) ----
function setStatus(st) { S.st = typeof st === 'string' ? [st] : st; renderStatus(); }
function renderStatus() {
  const txt = S.st ? t(...S.st) : '';
  if ($('status').textContent !== txt) $('status').textContent = txt;
}
function showError(r, acts) {
  r = r || { code: 'network' };
  S.err = { code: r.code || (r.status ? 'http_' + r.status : 'network'), msg: r.msg || '', acts: acts || [] };
  renderError();
  $('error').scrollIntoView({ block: 'nearest' });
}
function clearError() { S.err = null; renderError(); }
function renderError() {
  const box = $('error'), e = S.err, d = T[S.lang].e;
  if (!e) { box.textContent = ''; box.removeAttribute('data-code'); return; }
  box.setAttribute('data-code', e.code);
  const txt = d[e.code] || (/^ticket_/.test(e.code) && d.ticket) || d.generic + (e.msg ? ` (${e.msg})` : '');
  fill(box, [h('p', { text: txt }), ...e.acts.map(([label, fn, id]) =>
    h('button', { type: 'button', 'data-testid': id, on: fn, text: t(label) }))]);
}

// ---- network ----
async function api(method, path, opt = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...opt.headers } };
  if (opt.cache) init.cache = opt.cache;
  if (opt.body) init.body = opt.body;
  const r = await fetch(path, init), txt = await r.text();
  let data = null;
  try { data = txt ? JSON.parse(txt) : null; } catch (e) { /* not JSON */ }
  const err = (data && data.error) || {};
  return { status: r.status, data, ra: r.headers.get('Retry-After'), code: err.code || '', msg: err.message || '' };
}
const tryApi = (...a) => api(...a).catch(() => null);
// A snapshot GET with two quiet retries on 503/network; then an error with a retry button.
// Resolves to the data, or null when it failed or the user moved on.
async function load(path, cache, again) {
  const g = S.gen;
  setStatus('loading');
  for (let i = 0; ; i++) {
    const r = await tryApi('GET', path, { cache });
    if (g !== S.gen) return null;
    if (r && r.status === 200 && r.data) { setStatus(null); return r.data; }
    if (i >= 2 || (r && r.status < 500 && r.status !== 429)) {
      setStatus(null);
      showError(r, [['retry', again, 'retry']]);
      return null;
    }
    await new Promise((ok) => setTimeout(ok, r && r.ra ? raSec(r.ra) * 1000 : jit(1, 2)));
  }
}

// ---- steps ----
function go(step, noFocus) {
  S.step = step;
  for (const s of STEPS) $('step-' + s).hidden = s !== step;
  const sec = $('step-' + step), head = sec.querySelector('h2');
  $('back').hidden = step === 'region' || step === 'done';
  sec.insertBefore($('back'), head);
  sec.insertBefore($('as-of'), head.nextSibling);
  renderAsOf();
  if (!noFocus) head.focus();
}
function renderAsOf() {
  const snap = { region: S.regions, clinics: S.clinics, clinic: S.clinic, confirm: S.clinic }[S.step], el = $('as-of');
  el.hidden = !(snap && snap.generated_at);
  el.textContent = el.hidden ? '' : t('asOf', fmtStamp(snap.generated_at));
}
function onBack() {
  const prev = { clinics: 'region', clinic: 'clinics', confirm: 'clinic', waiting: 'confirm' }[S.step];
  if (prev) { cancelFlow(); go(prev); }
}
const opt = (testid, pressed, disabled, label, sub, on) => h('li', {}, [h('button',
  { type: 'button', 'data-testid': testid, 'aria-pressed': pressed == null ? null : String(pressed), disabled, on },
  [label, ' ', h('small', { text: sub })])]);
const regionOf = (code) => (S.regions ? S.regions.regions : []).find((r) => r.code === code);

// 1. region
async function loadRegions() {
  clearError();
  const d = await load('/api/v1/regions', undefined, loadRegions);
  if (d) { S.regions = d; renderRegion(); renderAsOf(); }
}
function renderRegion() {
  if (!S.regions) return;
  const all = S.regions.regions, sido = regionOf(S.sido);
  fill($('sido-list'), all.filter((r) => r.parent == null).map((r) =>
    opt('sido-' + r.code, S.sido === r.code, false, r.name, t('clinicsN', r.clinics || 0), () => pickSido(r.code))));
  $('sgg-box').hidden = !sido;
  if (!sido) return;
  $('h-sgg').textContent = t('sigunguOf', sido.name);
  let kids = all.filter((r) => r.parent === sido.code);
  if (!kids.length) kids = [sido];  // a 시/도 without 시/군/구: book in the 시/도 itself
  fill($('sgg-list'), kids.map((r) => opt('sigungu-' + r.code, S.sgg === r.code, !(r.clinics > 0), r.name,
    t('clinicsN', r.clinics || 0), () => pickSgg(r.code))));
}
function pickSido(code) { S.sido = code; clearError(); renderRegion(); $('h-sgg').focus(); }
async function pickSgg(code) {
  cancelFlow();
  S.sgg = code;
  const d = await load(`/api/v1/regions/${encodeURIComponent(code)}/clinics`, undefined, () => pickSgg(code));
  if (d) { S.clinics = d; renderRegion(); renderClinics(); go('clinics'); }
}

// 2. clinics of the region
function renderClinics() {
  const d = S.clinics;
  if (!d) return;
  const reg = regionOf(S.sgg);
  $('h-clinics').textContent = t('clinicsOf', reg ? reg.name : S.sgg);
  fill($('clinic-list'), d.clinics.length ? d.clinics.map((c) => {
    const rem = c.remaining || [], out = !(sum(rem) > 0);
    return h('li', {}, [h('button', { type: 'button', class: 'card', 'data-testid': 'clinic-' + c.id, disabled: out,
      on: () => pickClinic(c.id) }, [
      h('span', { class: 'name', text: c.name }), ' ',
      out ? h('span', { class: 'tag', text: t('soldOut') }) : null, ' ',
      h('span', { class: 'addr', text: c.address }), ' ',
      h('span', { class: 'chips' }, d.dates.flatMap((dt, i) => [h('span', { class: rem[i] > 0 ? 'chip' : 'chip none' },
        [fmtDate(dt) + ' ', h('b', { text: rem[i] > 0 ? t('seats', rem[i]) : t('full') })]), ' ']))
    ])]);
  }) : [h('li', { class: 'empty', text: t('noClinics') })]);
}

// 3. one clinic: dates, then times
async function pickClinic(id, fresh) {
  cancelFlow();
  const d = await load('/api/v1/clinics/' + encodeURIComponent(id), fresh ? 'no-cache' : undefined,
    () => pickClinic(id, fresh));
  if (!d) return;
  if (!S.clinic || S.clinic.id !== d.id) S.date = null;
  S.clinic = d;
  S.time = null;
  if (!S.date && d.dates.length === 1) S.date = d.dates[0].date;
  renderClinic();
  go('clinic');
}
function renderClinic() {
  const c = S.clinic;
  if (!c) return;
  $('h-clinic').textContent = c.name;
  $('clinic-addr').textContent = c.address;
  fill($('date-list'), c.dates.map((d) => {
    const n = sum(d.slots.map((s) => s.remaining));
    return opt('date-' + d.date, S.date === d.date, false, fmtDate(d.date), n > 0 ? t('seats', n) : t('full'),
      () => pickDate(d.date));
  }));
  const day = c.dates.find((d) => d.date === S.date);
  $('time-box').hidden = !day;
  if (!day) return;
  $('h-times').textContent = t('timesOf', fmtDate(day.date));
  fill($('time-list'), day.slots.map((s) => opt('time-' + s.time, null, !(s.remaining > 0), s.time,
    s.remaining > 0 ? t('seats', s.remaining) : t('full'), () => pickTime(s.time))));
}
function pickDate(date) { S.date = date; clearError(); renderClinic(); $('h-times').focus(); }
function pickTime(time) { cancelFlow(); S.time = time; renderConfirm(); go('confirm'); }

// 4. confirm
function renderConfirm() {
  const c = S.clinic;
  if (!c || !S.time) return;
  fill($('summary'), [['clinic', c.name], ['address', c.address], ['date', fmtDate(S.date, 1)], ['time', S.time]]
    .flatMap(([k, v]) => [h('dt', { text: t(k) }), h('dd', { text: v })]));
}
function newKey() {
  const b = new Uint8Array(16);
  if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
  else b.forEach((_, i) => { b[i] = Math.random() * 256; });
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
function onConfirm(ev) {
  ev.preventDefault();
  if (S.busy || !S.clinic || !S.time) return;
  const inp = $('person-id'), v = inp.value.trim();
  if (!v) {
    inp.setAttribute('aria-invalid', 'true');
    showError({ code: 'person_id_empty' });
    return inp.focus();
  }
  inp.removeAttribute('aria-invalid');
  const body = JSON.stringify({ clinic_id: S.clinic.id, date: S.date, time: S.time, person_id: v });
  // One Idempotency-Key per booking; every retry of the same booking reuses it.
  if (body !== S.keyBody) { S.key = newKey(); S.keyBody = body; }
  startBooking();
}
function startBooking() {
  clearError();
  S.tries = S.rejoins = 0;
  setBusy(true);
  attempt();
}

// 5. the booking request and everything that can come back
async function attempt() {
  const g = S.gen;
  setStatus('booking');
  const r = await tryApi('POST', '/api/v1/bookings', { cache: 'no-store', body: S.keyBody,
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': S.key } });
  if (g !== S.gen) return;
  if (r && r.status < 300 && r.data && r.data.booking_id) return booked(r.data);
  if (!r || r.status >= 500 || r.status === 429) {
    // Wait at least Retry-After, growing 1, 2, 4 ... 30 s so a crowd backs off.
    if (++S.tries > MAX_TRIES) return fail({ code: r ? 'busy' : 'network' }, [['retry', startBooking, 'retry']]);
    let sec = Math.max(r && r.ra ? raSec(r.ra) : 1, Math.min(30, 2 ** (S.tries - 1)));
    const tick = () => {
      if (sec <= 0) return attempt();
      setStatus(['busyRetry', sec--]);
      later(tick, 1000);
    };
    return tick();
  }
  if (r.status === 403 && /^ticket_/.test(r.code)) return queue(r.code);
  fail(r, r.code === 'slot_full' ? [['backToTimes', () => pickClinic(S.clinic.id, true), 'back-to-times']] : null);
}
function fail(r, acts) {
  setBusy(false);
  setStatus(null);
  if (S.step !== 'confirm') go('confirm');
  showError(r, acts);
}

// the waiting room
function queue(code) {
  const first = S.step !== 'waiting';
  if (first) {
    S.q = S.qStart = null;
    S.qErr = 0;
    renderQueue();
    go('waiting');
    tickQueue();
  }
  if (code === 'ticket_not_admitted') return first ? poll() : later(poll, jit(1.5, 2.5));
  if (++S.rejoins > MAX_REJOINS) return fail({ code }, [['retry', startBooking, 'retry']]);
  join();
}
const qBackoff = (r) => r && r.ra ? raSec(r.ra) * 1000 : jit(0.8, 1.2) * Math.min(30, 2 ** S.qErr);
async function join() {
  const g = S.gen;
  setStatus('joining');
  const r = await tryApi('POST', '/api/v1/queue/tickets', { cache: 'no-store' });
  if (g !== S.gen) return;
  if (r && r.status < 300 && r.data) { S.qErr = 0; setStatus('inQueue'); return onQueue(r.data); }
  S.qErr++;
  later(join, qBackoff(r));
}
async function poll() {
  const g = S.gen, r = await tryApi('GET', '/api/v1/queue/tickets/current', { cache: 'no-store' });
  if (g !== S.gen) return;
  if (r && r.status === 200 && r.data) { S.qErr = 0; return onQueue(r.data); }
  if (r && (r.status === 404 || (r.status === 403 && /^ticket_/.test(r.code)))) return queue(r.code || 'ticket_missing');
  if (++S.qErr > 2) setStatus('queueRetry');
  later(poll, qBackoff(r));
}
function onQueue(q) {
  S.q = q;
  S.qAt = Date.now();
  renderQueue();
  if (q.admitted || q.open === false) { setStatus('admitted'); return attempt(); }
  const o = q.opening_in_s;
  later(poll, q.position == null ? (o != null && o <= 12 ? (o + 1) * 1000 + jit(0, 2) : jit(10, 15))
    : q.position <= 200 || (q.eta_s != null && q.eta_s <= 10) ? jit(1, 2) : jit(8, 12));
}
function tickQueue() { if (S.step === 'waiting') { renderQueue(); later(tickQueue, 1000); } }
function renderQueue() {
  const q = S.q || {}, bar = $('q-bar'), op = $('q-open'), pre = q.position == null;
  $('q-pos').textContent = pre ? '–' : String(q.position);
  $('q-eta').textContent = q.admitted ? t('now') : q.eta_s == null ? t('etaUnknown') : dur(q.eta_s);
  op.hidden = !(pre && q.opening_in_s != null);
  op.textContent = op.hidden ? '' : t('openingIn', dur(q.opening_in_s - (Date.now() - S.qAt) / 1000));
  if (pre) { bar.removeAttribute('value'); bar.textContent = ''; return; }
  if (S.qStart == null || q.position > S.qStart) S.qStart = q.position;
  const v = q.admitted || !S.qStart ? 100 : Math.round(100 * (S.qStart - q.position) / S.qStart);
  bar.value = v;
  bar.textContent = v + '%';
}

// 6. done, cancel
const tokenOf = (id) => ss((s) => s.getItem('surge.booking.' + id));
function booked(b) {
  setBusy(false);
  S.key = S.keyBody = null;
  ss((s) => s.setItem('surge.booking.' + b.booking_id, b.token));
  S.booked = { b, name: S.clinic ? S.clinic.name : '', canceled: b.status === 'canceled' };
  clearError();
  setStatus('bookedSt');
  renderDone();
  go('done');
}
function renderDone() {
  const x = S.booked;
  if (!x) return;
  const b = x.b;
  $('h-done').textContent = t(x.canceled ? 'canceledTitle' : 'doneTitle');
  $('b-id').textContent = b.booking_id;
  $('b-clinic').textContent = x.name || '#' + b.clinic_id;
  $('b-date').textContent = b.date ? fmtDate(b.date, 1) : '';
  $('b-time').textContent = b.time || '';
  $('b-person').textContent = b.person_id || '';
  $('canceled').hidden = !x.canceled;
  $('canceled').textContent = t('canceled');
  $('cancel').hidden = x.canceled || !tokenOf(b.booking_id);
}
async function cancelBooking() {
  const x = S.booked, tok = x && tokenOf(x.b.booking_id), btn = $('cancel'), g = S.gen;
  if (!tok || btn.disabled) return;
  btn.disabled = true;
  clearError();
  setStatus('canceling');
  const r = await tryApi('DELETE', '/api/v1/bookings/' + encodeURIComponent(x.b.booking_id),
    { cache: 'no-store', headers: { Authorization: 'Bearer ' + tok } });
  if (g !== S.gen) return;
  btn.disabled = false;
  setStatus(null);
  if (!r || r.status >= 300) return showError(r);
  x.canceled = true;
  ss((s) => s.removeItem('surge.booking.' + x.b.booking_id));
  renderDone();
  setStatus('canceled');
  $('canceled').focus();
}
function again() {
  cancelFlow();
  S.sido = S.sgg = S.clinics = S.clinic = S.date = S.time = S.booked = null;
  $('sgg-box').hidden = true;
  renderRegion();
  go('region');
  loadRegions();
}

// ---- language ----
function setLang(l) {
  S.lang = T[l] ? l : 'ko';
  try { localStorage.setItem('surge.lang', S.lang); } catch (e) { /* private mode */ }
  document.documentElement.lang = S.lang;
  document.title = t('title');
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  const b = $('lang');
  b.textContent = t('langBtn');
  b.lang = S.lang === 'ko' ? 'en' : 'ko';
  b.setAttribute('aria-label', t('langLabel'));
  [renderRegion, renderClinics, renderClinic, renderConfirm, renderQueue, renderDone, renderError, renderStatus,
    renderAsOf].forEach((f) => f());
}

function init() {
  let l = null;
  try { l = localStorage.getItem('surge.lang'); } catch (e) { /* private mode */ }
  setLang(l || 'ko');
  $('lang').addEventListener('click', () => setLang(S.lang === 'ko' ? 'en' : 'ko'));
  $('back').addEventListener('click', onBack);
  $('confirm-form').addEventListener('submit', onConfirm);
  $('person-id').addEventListener('input', (ev) => {
    ev.target.removeAttribute('aria-invalid');
    if (S.err && S.err.code === 'person_id_empty') clearError();
  });
  $('cancel').addEventListener('click', cancelBooking);
  $('again').addEventListener('click', again);
  go('region', true);
  loadRegions();
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
})();
