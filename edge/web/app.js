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
    queueSoldOut: '모든 좌석이 예약되어 마감되었습니다 ({0}). 이 페이지를 열어 두시면 취소로 자리가 나는 경우 이어서 진행합니다.',
    queueSoldOutSt: '마감되었습니다.', proving: '자동 접속이 아닌지 확인하는 중… {0}%',
    provingNote: '접속이 몰려 이 기기에서 잠시 계산합니다. 외부 서비스나 추적 없이 이 페이지 안에서만 이루어집니다.', resumeCode: '다른 기기에서 이어가기 코드',
    resumed: '다른 기기의 대기 순서를 이어받았습니다.', resumeBad: '이어가기 코드를 확인해 주세요.',
    doneTitle: '예약 완료', canceledTitle: '예약 취소됨', bookedSt: '예약이 완료되었습니다.', bookingId: '예약 번호',
    person: '예약자', cancel: '예약 취소', again: '다른 예약하기', canceling: '취소하는 중…',
    canceled: '예약이 취소되었습니다.', retry: '다시 시도', backToTimes: '시간 다시 고르기',
    allOf: '{0} 전체', search: '이름·주소 검색', sort: '정렬', byName: '이름순', bySeats: '잔여석 많은 순',
    byDist: '가까운 순', nearAddr: '기준 위치 (주소나 동네 이름)', nearGo: '적용', nearMe: '내 위치 사용',
    nearAsk: '주소나 동네 이름을 입력하거나 ‘내 위치 사용’을 누르세요.', nearFrom: '‘{0}’ 기준 (일치하는 주소 {1}곳의 중심)',
    nearMine: '내 위치 기준', nearNone: '‘{0}’에 맞는 주소를 찾지 못했습니다. 시/군/구나 도로 이름으로 입력해 보세요.',
    nearFinding: '위치를 찾는 중…', geoFail: '위치를 가져오지 못했습니다. 주소를 입력해 주세요.',
    countAll: '접종기관 {0}곳', countOf: '{1}곳 중 {0}곳', noMatch: '검색 결과가 없습니다.',
    more: '더 보기 ({0} / {1})', seatsLeft: '잔여 {0}석', firstDay: '가장 빠른 날 {0}',
    myBooking: '내 예약', myBookingTitle: '내 예약', code: '예약 코드',
    codeKeep: '예약 코드를 꼭 보관하세요. ‘내 예약’에서 예약을 확인하거나 취소할 때 예약자 ID와 함께 필요합니다.',
    lookupTitle: '내 예약 확인', lookupIntro: '예약할 때 받은 예약 코드와 예약자 ID를 입력하세요.',
    codeFmt: '영문과 숫자 8자 (예: ABCD-EFGH)', lookupBtn: '예약 조회', lookingUp: '예약을 찾는 중…',
    lookupOk: '예약을 찾았습니다.', goMyBooking: '내 예약 보기',
    wd: ['일', '월', '화', '수', '목', '금', '토'],
    e: {
      slot_full: '선택한 시간은 마감되었습니다. 다른 시간을 골라 주세요.',
      slot_past: '선택한 시간이 이미 지났습니다. 다른 시간을 골라 주세요.',
      person_already_booked: '이미 예약하셨습니다. ‘내 예약’에서 예약을 확인하거나 취소할 수 있습니다.',
      not_found: '이 예약자 ID와 예약 코드에 맞는 예약이 없습니다.',
      invalid_lookup: '예약자 ID(영문, 숫자, . _ -)와 8자리 예약 코드를 확인해 주세요.',
      too_many_attempts: '시도가 너무 많습니다. {0}초 후 다시 시도해 주세요.',
      ticket_already_used: '이 대기표로는 이미 예약했습니다.',
      person_id_empty: '예약자 ID를 입력해 주세요.',
      lookup_busy: '접속이 많아 예약을 찾지 못했습니다. 다시 시도해 주세요.',
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
    queueSoldOut: 'Every seat has been booked ({0}). If a booking is cancelled, this page goes on by itself while it stays open.',
    queueSoldOutSt: 'Sold out.', proving: 'Checking this is not an automated client… {0}%',
    provingNote: 'Under heavy load, this device works for a moment. It stays in this page: no third party, no tracking.', resumeCode: 'Code to continue on another device',
    resumed: 'Your place from another device is back.', resumeBad: 'Check the resume code.',
    doneTitle: 'Booked', canceledTitle: 'Booking canceled', bookedSt: 'Your booking is confirmed.',
    bookingId: 'Booking ID', person: 'Person ID', cancel: 'Cancel booking', again: 'Book another',
    canceling: 'Canceling…', canceled: 'Your booking has been canceled.', retry: 'Try again',
    backToTimes: 'Choose another time', wd: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
    allOf: 'All of {0}', search: 'Search name or address', sort: 'Sort', byName: 'Name', bySeats: 'Most seats left',
    byDist: 'Nearest', nearAddr: 'From (address or neighbourhood)', nearGo: 'Apply', nearMe: 'Use my location',
    nearAsk: 'Type an address or neighbourhood, or tap “Use my location”.',
    nearFrom: 'From “{0}” (centre of {1} matching addresses)', nearMine: 'From your location',
    nearNone: 'No address matches “{0}”. Try a district or street name.', nearFinding: 'Finding the place…',
    geoFail: 'Could not get your location. Please type an address.',
    countAll: '{0} clinics', countOf: '{0} of {1} clinics', noMatch: 'Nothing matches.',
    more: 'Show more ({0} / {1})', seatsLeft: '{0} seats left', firstDay: 'first {0}',
    myBooking: 'My booking', myBookingTitle: 'My booking', code: 'Booking code',
    codeKeep: 'Keep this booking code. With your person ID it lets you see or cancel the booking under “My booking”.',
    lookupTitle: 'Find my booking', lookupIntro: 'Enter your person ID and the booking code you got when booking.',
    codeFmt: '8 letters and digits (e.g. ABCD-EFGH)', lookupBtn: 'Find booking', lookingUp: 'Finding your booking…',
    lookupOk: 'Booking found.', goMyBooking: 'See my booking',
    e: {
      slot_full: 'That time is sold out. Please choose another time.',
      slot_past: 'That time has passed. Please pick another time.',
      person_already_booked: 'You already have a booking. You can see or cancel it under “My booking”.',
      not_found: 'No booking matches this person ID and code.',
      invalid_lookup: 'Check the person ID (letters, digits, . _ -) and the 8-character booking code.',
      too_many_attempts: 'Too many attempts. Try again in {0} s.',
      ticket_already_used: 'This queue ticket has already been used for a booking.',
      person_id_empty: 'Please enter a person ID.',
      lookup_busy: 'The service is busy; the booking could not be looked up. Please try again.',
      busy: 'The service is busy; the booking did not go through. Please try again.',
      network: 'Could not reach the server. Please try again.',
      ticket: 'Could not join the queue. Please try again.',
      unknown_clinic: 'No such clinic.', unknown_slot: 'No such time slot.',
      generic: 'The request could not be completed.'
    }
  }
};

const MAX_TRIES = 10, MAX_REJOINS = 3, PAGE = 40,
  STEPS = ['region', 'clinics', 'clinic', 'confirm', 'waiting', 'done', 'lookup'];
const S = { lang: 'ko', step: 'region', gen: 0, timers: [], busy: false, tries: 0, rejoins: 0, qErr: 0, sort: 'name',
  qText: '', from: 'region' };
// S also holds: regions, sido, sgg, clinics, clinic (snapshot), date, time, key, keyBody, q, qAt,
// qStart, st (status), err, booked, L (the clinic list: rows, filter, sort, place, shown), notice, from
// (the step the lookup was opened from).

const $ = (id) => document.getElementById(id);
const t = (k, ...a) => String(k in T[S.lang] ? T[S.lang][k] : k).replace(/\{(\d)\}/g, (_, i) => a[i]);
const sum = (a) => a.reduce((x, y) => x + (y || 0), 0);
const jit = (lo, hi) => (lo + Math.random() * (hi - lo)) * 1000;
const pad = (n) => String(n).padStart(2, '0');
const num = (n) => Number(n).toLocaleString(S.lang === 'ko' ? 'ko-KR' : 'en-US');
const norm = (s) => String(s || '').toLowerCase().replace(/\s+/g, '');
const words = (s) => String(s || '').toLowerCase().split(/[\s,]+/).filter(Boolean);
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
  if (S.worker) { S.worker.terminate(); S.worker = null; }
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
function showError(r, acts, args) {
  r = r || { code: 'network' };
  S.err = { code: r.code || (r.status ? 'http_' + r.status : 'network'), msg: r.msg || '', acts: acts || [],
    args: args || [] };
  renderError();
  $('error').scrollIntoView({ block: 'nearest' });
}
function clearError() { S.err = null; renderError(); }
function renderError() {
  const box = $('error'), e = S.err, d = T[S.lang].e;
  if (!e) { box.textContent = ''; box.removeAttribute('data-code'); return; }
  box.setAttribute('data-code', e.code);
  const txt = (d[e.code] || (/^ticket_/.test(e.code) && d.ticket) || d.generic + (e.msg ? ` (${e.msg})` : ''))
    .replace(/\{(\d)\}/g, (_, i) => e.args[i]);
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
  if (step !== 'lookup' && location.hash === '#my-booking') setHash('');
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
  const prev = { clinics: 'region', clinic: 'clinics', confirm: 'clinic', waiting: 'confirm', lookup: S.from }[S.step];
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
    opt('sido-' + r.code, S.sido === r.code, false, r.name, t('clinicsN', num(r.clinics || 0)), () => pickSido(r.code))));
  $('sgg-box').hidden = !sido;
  if (!sido) return;
  $('h-sgg').textContent = t('sigunguOf', sido.name);
  let kids = all.filter((r) => r.parent === sido.code);
  // "all of the 시/도" first: its snapshot lists the clinics of every 시/군/구 under it.
  // A 시/도 without 시/군/구 is booked in the 시/도 itself.
  kids = kids.length ? [{ code: sido.code, name: t('allOf', sido.name), clinics: sido.clinics || sum(kids.map((r) =>
    r.clinics)) }].concat(kids) : [sido];
  fill($('sgg-list'), kids.map((r) => opt('sigungu-' + r.code, S.sgg === r.code, !(r.clinics > 0), r.name,
    t('clinicsN', num(r.clinics || 0)), () => pickSgg(r.code))));
}
function pickSido(code) { S.sido = code; clearError(); renderRegion(); $('h-sgg').focus(); }
async function pickSgg(code) {
  cancelFlow();
  S.sgg = code;
  const d = await load(`/api/v1/regions/${encodeURIComponent(code)}/clinics`, undefined, () => pickSgg(code));
  if (d) {
    S.clinics = d;
    S.L = listOf(d);
    S.qText = $('q').value = '';
    view();
    renderRegion();
    renderClinics();
    go('clinics');
  }
}

// 2. clinics of the region: a 시/군/구 (tens) or a whole 시/도 (thousands). Filtered by name and
// address, sorted by name, seats left or distance, and rendered PAGE rows at a time.
function listOf(d) {
  const rows = d.clinics.map((c) => {
    const rem = c.remaining || [];
    return { c, seats: sum(rem), first: rem.findIndex((n) => n > 0), key: norm(c.name + c.address), km: Infinity };
  });
  const coll = window.Intl && Intl.Collator ? new Intl.Collator('ko', { numeric: true }) : null;
  rows.slice().sort((a, b) => coll ? coll.compare(a.c.name, b.c.name) : a.c.name < b.c.name ? -1 : 1)
    .forEach((x, i) => { x.rank = i; });
  return { rows, view: rows, shown: PAGE };
}
function view() {
  const L = S.L, toks = words(S.qText).map(norm), p = S.sort === 'dist' && S.place;
  if (!L) return;
  const v = toks.length ? L.rows.filter((x) => toks.every((k) => x.key.includes(k))) : L.rows.slice();
  if (p) v.forEach((x) => { x.km = km(p, x.c); });
  v.sort(p ? (a, b) => a.km - b.km || a.rank - b.rank
    : S.sort === 'seats' ? (a, b) => b.seats - a.seats || a.rank - b.rank : (a, b) => a.rank - b.rank);
  L.view = v;
  L.shown = PAGE;
}
function refilter() { view(); renderClinics(); }
function km(p, c) {
  if (!isFinite(c.lat) || !isFinite(c.lng)) return Infinity;
  const r = Math.PI / 180, dLat = (c.lat - p.lat) * r, dLng = (c.lng - p.lng) * r;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(p.lat * r) * Math.cos(c.lat * r) * Math.sin(dLng / 2) ** 2;
  return 12742 * Math.asin(Math.min(1, Math.sqrt(a)));
}
const fmtKm = (k) => k < 1 ? Math.round(k * 1000) + ' m' : (k < 100 ? k.toFixed(1) : Math.round(k)) + ' km';
function renderClinics() {
  const d = S.clinics, L = S.L;
  if (!d || !L) return;
  const reg = regionOf(S.sgg), v = L.view;
  $('h-clinics').textContent = t('clinicsOf', reg ? reg.name : S.sgg);
  $('sort').value = S.sort;
  $('near').hidden = S.sort !== 'dist';
  renderNear();
  const count = v.length === L.rows.length ? t('countAll', num(v.length)) : t('countOf', num(v.length), num(L.rows.length));
  if ($('clinic-count').textContent !== count) $('clinic-count').textContent = count;
  fill($('clinic-list'), v.length ? v.slice(0, L.shown).map(card)
    : [h('li', { class: 'empty', text: L.rows.length ? t('noMatch') : t('noClinics') })]);
  renderMore();
}
function card(x) {
  const c = x.c, out = !(x.seats > 0), p = S.sort === 'dist' && S.place;
  return h('li', {}, [h('button', { type: 'button', class: 'card', 'data-testid': 'clinic-' + c.id, 'data-seats': x.seats,
    disabled: out, on: () => pickClinic(c.id) }, [
    h('span', { class: 'l1' }, [h('span', { class: 'name', text: c.name }), ' ',
      out ? h('span', { class: 'tag', text: t('soldOut') }) : null,
      p && isFinite(x.km) ? h('span', { class: 'dist', text: fmtKm(x.km) }) : null]), ' ',
    h('span', { class: 'addr', text: c.address }), ' ',
    out ? null : h('span', { class: 'meta', text: t('seatsLeft', num(x.seats)) +
      (x.first >= 0 ? ' · ' + t('firstDay', fmtDate(S.clinics.dates[x.first])) : '') })
  ])]);
}
function renderMore() {
  const L = S.L, b = $('more'), n = Math.min(L.shown, L.view.length);
  b.hidden = n >= L.view.length;
  b.textContent = t('more', num(n), num(L.view.length));
  if (S.io && !b.hidden) { S.io.unobserve(b); S.io.observe(b); }  // fires again if it is still in view
}
// The next page of rows; from the button (focus moves to the first new clinic) or on scroll.
function more(focus) {
  const L = S.L, from = L.shown;
  if (!L || from >= L.view.length) return;
  L.shown += PAGE;
  const kids = L.view.slice(from, L.shown).map(card);
  $('clinic-list').append(...kids);
  renderMore();
  if (focus) {
    const b = kids.map((li) => li.firstChild).find((x) => !x.disabled);
    if (b) b.focus();
  }
}

// Distance: from a place typed by the user, found in the snapshots (no geocoder): a 시/군/구 named
// in the text picks that district's clinics (from the list shown, else from its own small
// snapshot), the other words pick the addresses that hold the most of them; the place is the
// centre of those clinics. Or the browser's location, asked only when "use my location" is tapped.
function renderNear() {
  const el = $('near-from'), m = S.nearMsg, p = S.place;
  const txt = m ? t(...m) : !p ? t('nearAsk') : p.mine ? t('nearMine') : t('nearFrom', p.text, num(p.n));
  if (el.textContent !== txt) el.textContent = txt;
}
async function findPlace(text) {
  const toks = words(text).map(norm), regs = S.regions ? S.regions.regions : [];
  const sidos = regs.filter((r) => r.parent == null && toks.some((k) => k.length > 1 && norm(r.name).startsWith(k)));
  const sggTok = (r) => toks.find((k) => k === norm(r.name) || (r.name.length > 2 && k === norm(r.name.slice(0, -1))));
  let sggs = regs.filter((r) => r.parent != null && sggTok(r));
  if (sidos.length && sggs.some((r) => sidos.some((x) => x.code === r.parent))) {
    sggs = sggs.filter((r) => sidos.some((x) => x.code === r.parent));
  }
  const sgg = sggs.find((r) => r.parent === S.sido || r.code === S.sgg) || sggs[0];
  let pool = S.L.rows;
  if (sgg) {
    pool = sgg.parent === S.sido ? pool.filter((x) => x.c.address.split(/\s+/).includes(sgg.name)) : [];
    if (!pool.length) {
      const r = await tryApi('GET', `/api/v1/regions/${encodeURIComponent(sgg.code)}/clinics`);
      pool = r && r.status === 200 && r.data ? listOf(r.data).rows : [];
    }
  }
  const used = (k) => k === (sgg && sggTok(sgg)) || sidos.some((x) => norm(x.name).startsWith(k));
  const rest = toks.filter((k) => k.length > 1 && !used(k)), addr = (x) => norm(x.c.address);
  // Words match addresses; numbers (house numbers) only count next to a word that matched.
  const score = (x) => {
    const a = addr(x), w = rest.filter((k) => !/^\d+$/.test(k) && a.includes(k)).length;
    return w ? w * 100 + rest.filter((k) => /^\d+$/.test(k) && a.includes(k)).length : 0;
  };
  let best = 0;
  const scored = pool.filter((x) => isFinite(x.c.lat) && isFinite(x.c.lng)).map((x) => {
    const n = score(x);
    best = Math.max(best, n);
    return [x, n];
  });
  if (!sgg && !best) return null;
  const hits = scored.filter(([, n]) => n === best).map(([x]) => x.c);
  if (!hits.length) return null;
  return { lat: sum(hits.map((c) => c.lat)) / hits.length, lng: sum(hits.map((c) => c.lng)) / hits.length,
    text, n: hits.length };
}
async function onNear(ev) {
  ev.preventDefault();
  const inp = $('near-addr'), text = inp.value.trim(), g = S.gen;
  if (!text) return inp.focus();
  S.nearMsg = ['nearFinding'];
  renderNear();
  const p = await findPlace(text);
  if (g !== S.gen) return;
  S.nearMsg = p ? null : ['nearNone', text];
  if (p) { S.place = p; S.sort = 'dist'; refilter(); } else renderNear();
}
function nearMe() {
  const g = S.gen, geo = navigator.geolocation;
  const no = () => { if (g === S.gen) { S.nearMsg = ['geoFail']; renderNear(); } };
  if (!geo) return no();
  S.nearMsg = ['nearFinding'];
  renderNear();
  geo.getCurrentPosition((pos) => {
    if (g !== S.gen) return;
    S.place = { lat: pos.coords.latitude, lng: pos.coords.longitude, mine: true };
    S.nearMsg = null;
    S.sort = 'dist';
    refilter();
  }, no, { maximumAge: 300000, timeout: 20000 });
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
  if ((r.status === 403 && /^ticket_/.test(r.code)) || (r.status === 410 && r.code === 'sold_out')) return queue(r.code);
  fail(r, r.code === 'slot_full' || r.code === 'slot_past'
    ? [['backToTimes', () => pickClinic(S.clinic.id, true), 'back-to-times']]
    : r.code === 'person_already_booked' ? [['goMyBooking', () => showLookup(JSON.parse(S.keyBody).person_id),
      'go-my-booking']] : null);
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
  // Not yet, or not at all (sold out): the waiting page reads the state and says which.
  if (code === 'ticket_not_admitted' || code === 'sold_out') return first ? poll() : later(poll, jit(1.5, 2.5));
  if (++S.rejoins > MAX_REJOINS) return fail({ code }, [['retry', startBooking, 'retry']]);
  join();
}
const qBackoff = (r) => r && r.ra ? raSec(r.ra) * 1000 : jit(0.8, 1.2) * Math.min(30, 2 ** S.qErr);
async function join() {
  const g = S.gen, headers = S.proof ? { 'X-Surge-Proof': S.proof } : {};
  S.proof = null;  // a proof pays for one ticket
  setStatus('joining');
  const r = await tryApi('POST', '/api/v1/queue/tickets', { cache: 'no-store', headers });
  if (g !== S.gen) return;
  if (r && r.status < 300 && r.data) { S.qErr = 0; setStatus('inQueue'); return onQueue(r.data); }
  if (r && r.status === 403 && /^proof_/.test(r.code) && S.qErr < 3) { S.qErr++; return prove(); }
  if (r && r.status === 410 && r.code === 'sold_out') return onQueue(Object.assign({}, S.q, r.data));
  S.qErr++;
  later(join, qBackoff(r));
}
// The "under attack" mode: the edge wants a proof of work for a new ticket. It is computed in a Web
// Worker (/pow-worker.js: SHA-256 in this page, nothing third-party), with its progress shown;
// about 2^bits hashes, a second or so on a mid-range phone.
async function prove() {
  const g = S.gen, r = await tryApi('GET', '/api/v1/queue/challenge', { cache: 'no-store' });
  if (g !== S.gen) return;
  if (!(r && r.status === 200 && r.data)) return later(prove, qBackoff(r));
  if (!r.data.challenge) return join();  // the mode went off meanwhile
  const { challenge, bits } = r.data, expected = 2 ** bits;
  setStatus(['proving', 0]);
  $('q-pow').hidden = false;
  let worker;
  try { worker = new Worker('/pow-worker.js'); } catch (e) { return later(join, qBackoff(null)); }
  S.worker = worker;
  worker.onmessage = (ev) => {
    if (g !== S.gen) { worker.terminate(); return; }
    const pct = Math.min(99, Math.round(100 * (1 - Math.exp(-ev.data.tried / expected))));
    if (ev.data.nonce === undefined) { setStatus(['proving', pct]); return; }
    worker.terminate();
    $('q-pow').hidden = true;
    S.proof = challenge + '.' + ev.data.nonce;
    join();
  };
  worker.postMessage({ challenge, bits });
}
async function poll() {
  S.askedAt = Date.now();
  const g = S.gen, r = await tryApi('GET', '/api/v1/queue/tickets/current', { cache: 'no-store' });
  if (g !== S.gen) return;
  if (r && r.status === 200 && r.data) { S.qErr = 0; return onQueue(r.data); }
  if (r && (r.status === 404 || (r.status === 403 && /^ticket_/.test(r.code)))) return queue(r.code || 'ticket_missing');
  if (++S.qErr > 2) setStatus('queueRetry');
  later(poll, qBackoff(r));
}
// With its place in the line known, the page follows the queue's shared state (the same document
// for everyone, cacheable for a second: a CDN answers the waiting crowd) and works out its own
// position; it asks about its own ticket only before its place is known (the pre-queue) or when
// the queue was reset.
async function pollShared() {
  const g = S.gen, r = await tryApi('GET', '/api/v1/queue/state');
  if (g !== S.gen) return;
  if (!(r && r.status === 200 && r.data)) {
    if (++S.qErr > 2) setStatus('queueRetry');
    return later(pollShared, qBackoff(r));
  }
  S.qErr = 0;
  const s = r.data, q = S.q;
  // Asking about its own ticket every heartbeat_s tells origin this person is still here (who
  // stops asking is passed over; back within the booking session, the place is still theirs).
  if (q.place == null || s.epoch !== q.epoch ||
      (s.heartbeat_s > 0 && Date.now() - (S.askedAt || 0) >= s.heartbeat_s * 1000)) return poll();
  const position = Math.max(0, q.place - s.admitted);
  onQueue(Object.assign({}, q, { position, admitted: position === 0, open: s.open,
    eta_s: position === 0 ? 0 : s.rate > 0 ? Math.ceil(position / s.rate) : null,
    seats: s.seats, sold_out: s.sold_out, sold_out_at_ms: s.sold_out_at_ms, heartbeat_s: s.heartbeat_s }));
}
// Polling: 1-2 s near the front, 8-12 s further back - except while origin counts seats (people
// admitted before this one may take the last seat any second, and everyone must learn it within
// 2 s): then every 1-1.5 s. The shared state is cacheable for a second, so behind a CDN that costs
// the edges nothing more.
function onQueue(q) {
  S.q = q;
  S.qAt = Date.now();
  renderQueue();
  if (q.sold_out && !q.admitted) {
    // Nothing to wait for, unless cancellations give seats back: then admission opens again.
    setStatus('queueSoldOutSt');
    return later(q.place != null ? pollShared : poll, jit(20, 40));
  }
  if (q.admitted || q.open === false) { setStatus('admitted'); return attempt(); }
  const o = q.opening_in_s;
  const scarce = q.seats != null;
  const wait = q.position == null ? (o != null && o <= 12 ? (o + 1) * 1000 + jit(0, 2) : jit(10, 15))
    : scarce ? jit(1, 1.5)
    : q.position <= 200 || (q.eta_s != null && q.eta_s <= 10) ? jit(1, 2) : jit(8, 12);
  later(q.place != null ? pollShared : poll, q.heartbeat_s > 0 ? Math.min(wait, q.heartbeat_s * 1000) : wait);
}
function tickQueue() { if (S.step === 'waiting') { renderQueue(); later(tickQueue, 1000); } }
function renderQueue() {
  const q = S.q || {}, bar = $('q-bar'), op = $('q-open'), pre = q.position == null, so = $('q-sold');
  $('q-code').textContent = q.resume_code || '–';
  so.hidden = !(q.sold_out && !q.admitted);
  so.textContent = so.hidden ? '' : t('queueSoldOut', q.sold_out_at_ms
    ? new Date(q.sold_out_at_ms).toLocaleTimeString(S.lang === 'ko' ? 'ko-KR' : 'en-US') : '');
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
  S.booked = { b, name: S.clinic ? S.clinic.name : '', canceled: b.status === 'canceled', mine: false };
  clearError();
  setStatus('bookedSt');
  renderDone();
  go('done');
}
function renderDone() {
  const x = S.booked;
  if (!x) return;
  const b = x.b;
  $('h-done').textContent = t(x.canceled ? 'canceledTitle' : x.mine ? 'myBookingTitle' : 'doneTitle');
  $('b-code').textContent = b.code || '';
  $('b-code-row').hidden = !b.code;
  $('code-keep').hidden = !b.code || x.canceled;
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
// 7. my booking: person id + booking code -> the booking with a fresh token (the old one stops working)
const setHash = (hsh) => { try { history.replaceState(null, '', location.pathname + location.search + hsh); } catch (e) { /* */ } };
function showLookup(person) {
  if (S.step !== 'lookup') S.from = S.step === 'waiting' ? 'confirm' : S.step;
  cancelFlow();
  if (person) $('lookup-person').value = person;
  go('lookup');
  if (location.hash !== '#my-booking') setHash('#my-booking');
}
async function onLookup(ev) {
  ev.preventDefault();
  const btn = $('lookup-submit'), pi = $('lookup-person'), ci = $('lookup-code');
  if (btn.disabled) return;
  const p = pi.value.trim(), c = ci.value.toUpperCase().replace(/[\s-]/g, '');
  const badP = !/^[A-Za-z0-9._-]{1,64}$/.test(p), badC = !/^[0-9A-Z]{8}$/.test(c);
  pi.setAttribute('aria-invalid', String(badP));
  ci.setAttribute('aria-invalid', String(badC));
  if (badP || badC) {
    showError({ code: 'invalid_lookup' });
    return (badP ? pi : ci).focus();
  }
  clearError();
  btn.disabled = true;
  setStatus('lookingUp');
  const g = S.gen, r = await tryApi('GET', '/api/v1/bookings/lookup',
    { cache: 'no-store', headers: { Authorization: 'Basic ' + btoa(p + ':' + c) } });
  setStatus(null);
  if (g !== S.gen) { btn.disabled = false; return; }
  if (r && r.status === 429) {
    const n = Math.max(1, parseInt(r.ra, 10) || raSec(r.ra));
    setTimeout(() => { btn.disabled = false; }, n * 1000);
    return showError({ code: 'too_many_attempts' }, null, [num(n)]);
  }
  btn.disabled = false;
  if (r && r.status === 200 && r.data && r.data.booking_id) { ci.value = ''; return found(r.data); }
  if (!r || r.status >= 500) {
    return showError(r ? { code: 'lookup_busy' } : null, [['retry', () => onLookup({ preventDefault() {} }), 'retry']]);
  }
  showError(r.status === 404 ? { code: 'not_found' } : r.status === 400 ? { code: 'invalid_lookup' } : r);
}
function found(b) {
  ss((s) => s.setItem('surge.booking.' + b.booking_id, b.token));
  S.booked = { b, name: '', canceled: b.status === 'canceled', mine: true };
  clearError();
  renderDone();
  go('done');
  setStatus('lookupOk');
  // The clinic's name, from its snapshot.
  tryApi('GET', '/api/v1/clinics/' + encodeURIComponent(b.clinic_id)).then((r) => {
    if (r && r.status === 200 && r.data && S.booked && S.booked.b === b) { S.booked.name = r.data.name; renderDone(); }
  });
}

// ---- operator notice: the `notice` snapshot, read once; anything but a usable 200 shows nothing.
// Operator text: always textContent. ----
async function loadNotice() {
  try {
    const r = await fetch('/api/v1/snapshots/notice', { credentials: 'same-origin' });
    if (r.status !== 200) return;
    const ct = (r.headers.get('Content-Type') || '').toLowerCase(), txt = await r.text();
    const str = (v) => typeof v === 'string' && v.trim() ? v.trim() : null;
    let n = null;
    if (/^application\/json/.test(ct)) {
      const j = JSON.parse(txt), m = j && str(j.message);
      if (m) n = { ko: m, en: str(j.message_en), warn: j.level === 'warning' };
    } else if (/^text\/plain/.test(ct) && str(txt)) n = { ko: str(txt), plain: true };
    if (!n) return;
    S.notice = n;
    const el = h('div', { id: 'notice', 'data-testid': 'notice', class: n.warn ? 'notice warn' : 'notice',
      role: n.warn ? 'alert' : 'status' });
    $('main').insertBefore(el, $('status'));
    setTimeout(renderNotice, 50);  // filled once the live region exists, so it is announced
  } catch (e) { /* no notice */ }
}
function renderNotice() {
  const n = S.notice, el = $('notice');
  if (!n || !el) return;
  const en = S.lang === 'en' && n.en;
  el.textContent = (en ? n.en : n.ko).slice(0, 2000);
  if (n.plain) el.removeAttribute('lang'); else el.lang = en ? 'en' : 'ko';
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
    renderAsOf, renderNotice].forEach((f) => f());
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
  $('q').addEventListener('input', () => {
    clearTimeout(S.qTimer);
    S.qTimer = setTimeout(() => { S.qText = $('q').value; refilter(); }, 200);
  });
  $('sort').addEventListener('change', () => { S.sort = $('sort').value; refilter(); });
  $('near').addEventListener('submit', onNear);
  $('near-me').addEventListener('click', nearMe);
  $('near-me').hidden = !navigator.geolocation;
  $('more').addEventListener('click', () => more(true));
  if (window.IntersectionObserver) {
    // Near the end of the list, the next page comes by itself; not while the button has the focus
    // (a keyboard user tabbing to it gets the rows in order, from the button).
    S.io = new IntersectionObserver((es) => {
      if (S.step === 'clinics' && document.activeElement !== $('more') && es.some((e) => e.isIntersecting)) more();
    }, { rootMargin: '0px 0px 400px 0px' });
  }
  $('my-booking').addEventListener('click', (ev) => { ev.preventDefault(); showLookup(); });
  window.addEventListener('hashchange', () => { if (location.hash === '#my-booking' && S.step !== 'lookup') showLookup(); });
  $('lookup-form').addEventListener('submit', onLookup);
  const mine = location.hash === '#my-booking';  // read before go() tidies the hash away
  go('region', true);
  if (mine) showLookup();
  loadRegions();
  loadNotice();
  const code = new URLSearchParams(location.search).get('resume');
  if (code) resumePlace(code);
}
// Opened with ?resume=CODE (the code from another device): this browser takes that place back
// (the ticket cookie); choosing a time and booking then waits at that place.
async function resumePlace(code) {
  const r = await tryApi('POST', '/api/v1/queue/tickets/resume?code=' + encodeURIComponent(code), { cache: 'no-store' });
  if (r && r.status === 200 && r.data) { S.q = r.data; setStatus('resumed'); }
  else setStatus('resumeBad');
}
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
})();
