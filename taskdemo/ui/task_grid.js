// The task grid, drawn in the browser. Python sends one snapshot (the `snapshot` prop, for a new run) and then
// one small batch per tick (`apply`). Task state lives in typed arrays, outside Vue's reactivity; only the rows
// on screen are in the DOM, so 10,000 tasks cost what a screenful does. The browser tells Python which tasks
// it follows (`range`: what it draws and a couple of screens around), so that other percents need not travel.
// A running task outside that range has a percent nobody sends: its card says "…%" until the fresh one arrives.
//
// Keyboard: a WAI-ARIA grid with one tab stop (roving tabindex); arrows, Home/End, Ctrl+Home/End, PageUp/Down
// move among the listed tasks, drawing a card first when it is not in the DOM; Enter or Space opens its details.
const BUFFER_ROWS = 4;
const FOLLOW_SCREENS = 2; // percents are followed this many screens above and below the visible rows
const DRAW_ALL_UP_TO = 500; // smaller grids keep every card in the page: find-in-page and screen readers see all
const SETTLE_AT_ONCE = 20; // a batch with more status changes than this recolours without a fade (no muddy mixes)
const RUNNING = 'in_progress';

function fromBase64(text, Type) {
  const bytes = Uint8Array.from(atob(text || ''), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

export default {
  template: `
    <div class="task-grid-host w-full">
      <div ref="grid" id="tasks" class="task-grid w-full" :class="small ? 'grid-small' : 'grid-large'"
           :role="size ? 'grid' : null" :aria-label="size ? 'Tasks' : null" :aria-rowcount="size ? rows : null"
           :aria-colcount="size ? columns : null" :data-count="count" :tabindex="activeDrawn ? -1 : 0"
           :style="{paddingTop: padTop + 'px', paddingBottom: padBottom + 'px'}"
           @focus="onGridFocus" @focusin="onFocusIn" @focusout="onFocusOut" @keydown="onKey" @click="onClick"
           @mouseover="onHover" @mouseleave="onLeave">
        <div v-for="row in shownRows" :key="row.index" class="task-row" role="row" :aria-rowindex="row.index + 1">
          <div v-for="(i, n) in row.ids" :key="i" :class="cardClass(i)" role="gridcell" :aria-colindex="n + 1"
               :aria-label="label(i)" :tabindex="i === active ? 0 : -1" :data-task="i" v-html="cardHtml(i)"></div>
        </div>
      </div>
      <q-tooltip v-if="tipEl" ref="tip" v-model="tipShown" :target="tipEl" no-parent-event anchor="top middle"
                 self="bottom middle" :transition-duration="tipMotion" :offset="[0, 6]" max-width="22rem" class="task-tip">{{ tipText }}</q-tooltip>
    </div>`,
  props: {
    snapshot: Object,
    states: Array, // [wire name, word, icon] by state code
    small: Boolean,
  },
  emits: ['open', 'range'],
  data() {
    return {
      tick: 0, first: 0, last: 0, columns: 1, rowHeight: 80, count: 0, filter: [],
      active: 0, tipEl: null, tipShown: false, tipId: -1, tipMotion: 150,
    };
  },
  computed: {
    listed() {
      this.tick; // eslint-disable-line no-unused-expressions -- a batch may move tasks in or out of the filter
      if (!this.filter || !this.filter.length) return null; // every task, in order
      const wanted = new Set(this.filter);
      const ids = [];
      for (let i = 0; i < this.count; i++) if (wanted.has(this.codes[i])) ids.push(i);
      return ids;
    },
    size() {
      return this.listed ? this.listed.length : this.count;
    },
    rows() {
      return Math.ceil(this.size / this.columns);
    },
    padTop() {
      return Math.floor(this.first / this.columns) * this.rowHeight;
    },
    padBottom() {
      return Math.max(0, this.rows - Math.ceil(this.last / this.columns)) * this.rowHeight;
    },
    shown() {
      this.tick; // eslint-disable-line no-unused-expressions -- redraw when a batch arrived
      if (this.listed) return this.listed.slice(this.first, this.last);
      const ids = [];
      for (let i = this.first; i < this.last; i++) ids.push(i);
      return ids;
    },
    shownRows() { // role=row wrappers (display: contents): one per visual row, numbered as in the whole grid
      const ids = this.shown;
      const firstRow = Math.floor(this.first / this.columns);
      const rows = [];
      for (let n = 0; n * this.columns < ids.length; n++) {
        rows.push({ index: firstRow + n, ids: ids.slice(n * this.columns, (n + 1) * this.columns) });
      }
      return rows;
    },
    activeDrawn() {
      return this.shown.includes(this.active);
    },
    tipText() {
      this.tick; // eslint-disable-line no-unused-expressions -- the tooltip follows its task
      return this.tipId >= 0 && this.tipId < this.count ? this.tipLines(this.tipId).join('\n') : '';
    },
  },
  watch: {
    snapshot: {
      handler(value) {
        // every update of this element sends all its props again: load only a snapshot not loaded yet
        if (value && value.key !== this.loadedKey) this.load();
      },
      deep: false,
    },
  },
  created() {
    this.load();
  },
  mounted() {
    this.onScroll = () => {
      if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = null; this.measure(); });
    };
    window.addEventListener('scroll', this.onScroll, { passive: true });
    window.addEventListener('resize', this.onScroll, { passive: true });
    this.resizeObserver = new ResizeObserver(this.onScroll);
    this.resizeObserver.observe(this.$refs.grid);
    this.resizeObserver.observe(document.body); // what is above the grid grows or shrinks: it moves
    this.motion = window.matchMedia('(prefers-reduced-motion: reduce)');
    this.onMotion = () => { this.tipMotion = this.motion.matches ? 0 : 150; };
    this.motion.addEventListener('change', this.onMotion);
    this.onMotion();
    this.measure();
  },
  updated() {
    // a redraw may have replaced the focused card (its row regrouped, the filter moved it): focus its new self
    if (this.focusInside && !this.$refs.grid.contains(document.activeElement)) this.restoreFocus();
    if (this.tipEl && !this.tipEl.isConnected) {
      const card = this.cardEl(this.tipId);
      if (card) this.tipEl = card;
      else this.tipShown = false;
    }
  },
  unmounted() {
    window.removeEventListener('scroll', this.onScroll);
    window.removeEventListener('resize', this.onScroll);
    this.resizeObserver.disconnect();
    if (this.dialogObserver) this.dialogObserver.disconnect();
    this.motion.removeEventListener('change', this.onMotion);
  },
  methods: {
    load() {
      const s = this.snapshot || {};
      this.loadedKey = s.key;
      this.count = s.n || 0;
      this.codes = fromBase64(s.codes, Uint8Array);
      this.progress = fromBase64(s.progress, Uint8Array);
      this.started = fromBase64(s.started, Float32Array);
      this.ended = fromBase64(s.ended, Float32Array);
      this.errors = { ...(s.errors || {}) };
      this.attempts = { ...(s.attempts || {}) }; // id -> [attempt, [what each earlier attempt came to]]
      this.elapsed = s.elapsed || 0;
      // which percents are current: the snapshot's all are; then Python follows the first tasks (grid.py)
      this.known = new Uint8Array(this.count).fill(1);
      this.followIds = null;
      this.followLo = 0;
      this.followHi = Math.min(this.count, DRAW_ALL_UP_TO);
      this.reported = null;
      if (this.active >= this.count) this.active = 0;
      if (this.$refs.grid) this.measure();
      else this.last = Math.min(this.count, DRAW_ALL_UP_TO);
      this.tick++;
    },
    apply(batch) {
      for (const packed of batch.p || []) {
        this.progress[packed >> 7] = packed & 127;
        this.known[packed >> 7] = 1;
      }
      const moved = batch.s || [];
      for (const [id, code, progress, started, ended] of moved) {
        this.codes[id] = code;
        this.progress[id] = progress;
        this.known[id] = 1; // as of now; it stays current only while followed (see `percentKnown`)
        this.started[id] = started < 0 ? NaN : started;
        this.ended[id] = ended < 0 ? NaN : ended;
      }
      for (const [id, error] of Object.entries(batch.err || {})) {
        if (error === null) delete this.errors[id];
        else this.errors[id] = error;
      }
      Object.assign(this.attempts, batch.att || {});
      this.elapsed = batch.e;
      if (moved.length > SETTLE_AT_ONCE) this.settleAtOnce();
      this.tick++;
      // filtered, a task that leaves (or joins) the view moves the others into new places: tell Python which
      // tasks are on screen now, or a card that slid in keeps the percent it had when it was off screen
      if (this.listed && moved.length) this.$nextTick(this.measure);
    },
    showOnly(codes) {
      this.filter = codes || [];
      this.$nextTick(this.measure);
    },
    settleAtOnce() {
      // many cards change colour in this redraw: no fade (grey and green mix into teal half-way); the class is set
      // outside Vue's class binding, which Vue leaves alone while the binding's own value stays the same
      const grid = this.$refs.grid;
      if (!grid) return;
      grid.classList.add('grid-settle');
      this.$nextTick(() => requestAnimationFrame(() => requestAnimationFrame(() => {
        grid.classList.remove('grid-settle');
      })));
    },
    measure() {
      const grid = this.$refs.grid;
      if (!grid) return;
      const style = getComputedStyle(grid);
      this.columns = Math.max(1, style.gridTemplateColumns.split(' ').filter((t) => t && t !== '0px').length);
      const card = grid.querySelector('.task-card');
      const gap = parseFloat(style.rowGap) || 0;
      if (card) this.rowHeight = card.offsetHeight + gap;
      const size = this.size;
      const columns = this.columns;
      let followFirst = 0;
      let followLast = size;
      if (size <= DRAW_ALL_UP_TO) {
        this.first = 0;
        this.last = size;
      } else {
        const top = grid.getBoundingClientRect().top;
        const topRow = Math.max(0, Math.floor(-top / this.rowHeight));
        const bottomRow = Math.max(0, Math.ceil((window.innerHeight - top) / this.rowHeight));
        const screen = FOLLOW_SCREENS * Math.ceil(window.innerHeight / this.rowHeight);
        this.first = Math.min(size, Math.max(0, topRow - BUFFER_ROWS) * columns);
        this.last = Math.min(size, Math.max(this.first, (bottomRow + BUFFER_ROWS) * columns));
        followFirst = Math.min(this.first, Math.max(0, topRow - screen) * columns);
        followLast = Math.min(size, Math.max(this.last, (bottomRow + screen) * columns));
      }
      if (this.count > DRAW_ALL_UP_TO) this.follow(followFirst, followLast); // small: Python sends every percent
    },
    follow(lo, hi) {
      // filtered, the same places may hold other tasks after a batch: the report names the tasks themselves
      const ids = this.listed ? this.listed.slice(lo, hi) : null;
      const report = ids ? `ids:${ids.join(',')}` : `range:${lo}:${hi}`;
      if (report === this.reported) return;
      this.reported = report;
      let unknown = 0; // tasks newly followed: their percent is current only once Python's answer arrives
      const mark = (i) => { if (!this.followed(i)) { this.known[i] = 0; unknown++; } };
      if (ids) {
        ids.forEach(mark);
        this.followIds = new Set(ids);
      } else {
        for (let i = lo; i < hi; i++) mark(i);
        [this.followIds, this.followLo, this.followHi] = [null, lo, hi];
      }
      this.$emit('range', ids ? { ids } : { lo, hi });
      if (unknown) this.tick++;
    },
    followed(i) {
      return this.followIds ? this.followIds.has(i) : i >= this.followLo && i < this.followHi;
    },
    percentKnown(i, name) {
      return name !== RUNNING || (this.followed(i) && this.known[i] === 1);
    },

    // ---- keyboard, focus and the details dialog ---------------------------------------------------------------
    onKey(event) {
      const card = event.target.closest && event.target.closest('.task-card');
      if (!card || event.altKey || event.metaKey) return;
      const id = Number(card.dataset.task);
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.openTask(id);
        return;
      }
      if (event.key === 'Escape') {
        this.tipShown = false; // a tooltip is dismissed without moving focus (WCAG 1.4.13)
        return;
      }
      const target = this.targetOf(event.key, event.ctrlKey, this.posOf(id));
      if (target === null) return;
      event.preventDefault();
      this.focusPos(Math.max(0, Math.min(this.size - 1, target)));
    },
    targetOf(key, ctrl, pos) {
      const columns = this.columns;
      const rowStart = pos - (pos % columns);
      const screen = Math.max(1, Math.floor(window.innerHeight / this.rowHeight) - 1) * columns;
      const lastRowStart = (this.rows - 1) * columns;
      switch (key) {
        case 'ArrowRight': return pos + 1;
        case 'ArrowLeft': return pos - 1;
        case 'ArrowDown': return pos + columns < this.size ? pos + columns : pos;
        case 'ArrowUp': return pos - columns >= 0 ? pos - columns : pos;
        case 'Home': return ctrl ? 0 : rowStart;
        case 'End': return ctrl ? this.size - 1 : rowStart + columns - 1;
        case 'PageDown': return Math.min(pos + screen, lastRowStart + (pos % columns));
        case 'PageUp': return Math.max(pos - screen, pos % columns);
        default: return null;
      }
    },
    onClick(event) {
      const card = event.target.closest('.task-card');
      if (card) this.openTask(Number(card.dataset.task));
    },
    openTask(id) {
      // Quasar's dialog gives focus back to this card when it closes; if the card was redrawn meanwhile, we do
      this.returnTo = id;
      if (!this.dialogObserver) {
        this.dialogObserver = new MutationObserver((records) => {
          const closed = records.some((r) => [...r.removedNodes].some((n) => (n.id || '').startsWith('q-portal--dialog')));
          if (closed && this.returnTo !== null && (!document.activeElement || document.activeElement === document.body)) {
            this.active = this.returnTo;
            this.focusActive();
          }
          if (closed) this.returnTo = null;
        });
        this.dialogObserver.observe(document.body, { childList: true });
      }
      this.$emit('open', { id });
    },
    onGridFocus(event) {
      // the grid itself got focus (a skip link to #tasks, or Tab while the active card is not drawn): pass it on
      if (event.target === this.$refs.grid) this.focusActive();
    },
    onFocusIn(event) {
      const card = event.target.closest('.task-card');
      if (!card) return;
      this.active = Number(card.dataset.task);
      this.focusInside = true;
      this.returnTo = null;
      this.uncover(card);
      this.showTip(card);
    },
    onFocusOut(event) {
      if (this.$refs.grid.contains(event.relatedTarget)) return;
      this.focusInside = false;
      if (this.tipEl === event.target) this.tipShown = false;
      const card = event.target;
      if (!event.relatedTarget) queueMicrotask(() => { if (!card.isConnected) this.restoreFocus(); });
    },
    uncover(card) {
      // the browser scrolls a focused card into the window, not out from under a sticky header: do that too
      const box = card.getBoundingClientRect();
      const x = box.left + box.width / 2;
      const top = coverEdge(x, 1, 'bottom') || 0;
      const bottom = coverEdge(x, window.innerHeight - 1, 'top') || window.innerHeight;
      if (box.top < top) window.scrollBy(0, box.top - top - 8);
      else if (box.bottom > bottom) window.scrollBy(0, box.bottom - bottom + 8);
    },
    focusActive() {
      let pos = this.posOf(this.active);
      if (pos < 0) pos = this.firstVisiblePos(); // filtered out: the first card on screen
      if (pos >= 0) this.focusPos(pos);
    },
    restoreFocus() {
      this.focusInside = false;
      this.$nextTick(() => {
        const card = this.cardEl(this.active);
        if (card) card.focus({ preventScroll: true });
        else if (this.posOf(this.active) >= 0) this.focusActive();
      });
    },
    focusPos(pos) {
      if (pos < 0 || pos >= this.size) return;
      const id = this.listed ? this.listed[pos] : pos;
      this.active = id;
      const card = this.cardEl(id);
      if (card) {
        card.focus();
        return;
      }
      // not drawn yet: scroll its row to the middle of the window, draw, then focus
      const grid = this.$refs.grid;
      const row = Math.floor(pos / this.columns);
      const top = grid.getBoundingClientRect().top + window.scrollY + row * this.rowHeight;
      window.scrollTo({ top: top - (window.innerHeight - this.rowHeight) / 2, behavior: 'instant' });
      this.measure();
      this.$nextTick(() => { const drawn = this.cardEl(id); if (drawn) drawn.focus(); });
    },
    posOf(id) { // where a task is among the listed ones (sorted ids: a binary search), or -1
      if (!this.listed) return id >= 0 && id < this.count ? id : -1;
      const ids = this.listed;
      let [lo, hi] = [0, ids.length - 1];
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (ids[mid] === id) return mid;
        if (ids[mid] < id) lo = mid + 1;
        else hi = mid - 1;
      }
      return -1;
    },
    firstVisiblePos() {
      const cards = this.$refs.grid.querySelectorAll('.task-card');
      const card = [...cards].find((c) => c.getBoundingClientRect().bottom > 0) || cards[0];
      return card ? this.posOf(Number(card.dataset.task)) : -1;
    },
    cardEl(id) {
      return this.$refs.grid ? this.$refs.grid.querySelector(`.task-card[data-task="${id}"]`) : null;
    },

    // ---- the one tooltip, on the hovered or focused card --------------------------------------------------------
    onHover(event) {
      const card = event.target.closest('.task-card');
      if (card && card !== this.tipEl) this.showTip(card);
    },
    onLeave() {
      const focused = this.focusInside && document.activeElement.closest('.task-card');
      if (focused) this.showTip(focused);
      else this.tipShown = false;
    },
    showTip(card) {
      this.tipId = Number(card.dataset.task);
      this.tipEl = card;
      this.tipShown = true;
      this.$nextTick(() => { if (this.$refs.tip && this.$refs.tip.updatePosition) this.$refs.tip.updatePosition(); });
    },

    // ---- what a card says -----------------------------------------------------------------------------------------
    state(i) {
      return this.states[this.codes[i]] || this.states[0];
    },
    facts(i) {
      const [name, word, icon] = this.state(i);
      const started = this.started[i];
      const ended = this.ended[i];
      const done = !Number.isNaN(ended) && ended !== undefined;
      const ran = !Number.isNaN(started) && started !== undefined;
      return {
        name, word, icon, done,
        known: this.percentKnown(i, name),
        progress: this.progress[i],
        seconds: ran ? Math.max(0, (done ? ended : this.elapsed) - started) : null,
        attempt: this.attempts[i] ? this.attempts[i][0] : 1,
        error: this.errors[i],
      };
    },
    cardClass(i) {
      return 'task-card task-' + this.state(i)[0];
    },
    cardHtml(i) {
      const f = this.facts(i);
      let detail = '';
      let bar = '';
      if (f.name === RUNNING || f.name === 'interrupted') {
        detail = f.known ? `${f.progress}%` : '…%';
        bar = `<span class="task-bar">${f.known ? `<span style="width:${f.progress}%"></span>` : ''}</span>`;
      } else if (f.name === 'failed') {
        detail = `at ${f.progress}% · ${escapeHtml(shortError(f.error))}`;
      } else if (f.name === 'completed' && f.seconds !== null) {
        detail = duration(f.seconds);
      }
      const attempt = f.attempt > 1 ? `<span class="task-attempt">↻${f.attempt}</span>` : '';
      return `<span class="task-head" aria-hidden="true"><span class="task-num">#${i}</span>${attempt}` +
        `<span class="task-icon">${f.icon}</span></span>` +
        `<span class="task-state">${f.word}</span><span class="task-pct">${detail}</span>${bar}`;
    },
    label(i) { // the card's accessible name: what its face and the tooltip's first line say, in words
      const f = this.facts(i);
      const parts = [`Task ${i}: ${f.word}`, f.known ? `${f.progress}%` : 'percent updating'];
      if (f.attempt > 1) parts.push(`attempt ${f.attempt}`);
      if (f.done && f.seconds !== null) parts.push(`took ${duration(f.seconds)}`);
      if (f.error) parts.push(f.error);
      return parts.join(' · ');
    },
    tipLines(i) {
      const f = this.facts(i);
      const head = [`Task ${i}: ${f.word}`, f.known ? `${f.progress}%` : 'percent updating'];
      if (f.attempt > 1) head.push(`attempt ${f.attempt}`);
      const lines = [head.join(' · ')];
      if (f.seconds !== null && f.done) lines.push(`took ${duration(f.seconds)}`);
      else if (f.seconds !== null && f.name === RUNNING) {
        // the same estimate as the run's ETA (insight.py): this task's own rate so far
        const eta = f.known && f.progress >= 1 && f.seconds > 0
          ? `ETA ${((100 - f.progress) * f.seconds / f.progress).toFixed(0)} s` : 'ETA estimating';
        lines.push(`${duration(f.seconds)} so far · ${eta}`);
      } else if (f.seconds !== null) lines.push(`${duration(f.seconds)} so far`);
      if (f.error) lines.push(f.error);
      return [...lines, ...(this.attempts[i] ? this.attempts[i][1] : [])];
    },
  },
};

function coverEdge(x, y, edge) { // where a sticky or fixed element at this point of the window ends, if any
  for (let element = document.elementFromPoint(x, y); element && element !== document.body;
    element = element.parentElement) {
    if (/sticky|fixed/.test(getComputedStyle(element).position)) return element.getBoundingClientRect()[edge];
  }
  return null;
}

function duration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

function shortError(error) { // fits a 6.5rem card (clipped with an ellipsis there); the tooltip has it whole
  return (error || 'failed').replace(/^Simulated failure:\s*/, '');
}

function escapeHtml(text) { // errors come from tasks: on a card they are text, never markup
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
