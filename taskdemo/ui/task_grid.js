// The task grid, drawn in the browser. Python sends one snapshot (the `snapshot` prop, for a new run) and then
// one small batch per tick (`apply`). Task state lives in typed arrays, outside Vue's reactivity; only the rows
// on screen are in the DOM, so 10,000 tasks cost what a screenful does. The browser tells Python which tasks
// it follows (`range`: what it draws and a couple of screens around), so that other percents need not travel.
// A running task outside that range has a percent nobody sends: its card says "…%" until the fresh one arrives.
// Which tasks are stalled comes for every task (it changes rarely): the ids that began or stopped being stalled.
//
// The keyboard, focus and the tooltip: grid_keys.js; what a card says: grid_cards.js (both mixed in).
import { cards, RUNNING } from 'grid_cards';
import { keyboard } from 'grid_keys';

const BUFFER_ROWS = 4;
const FOLLOW_SCREENS = 2; // percents are followed this many screens above and below the visible rows
const DRAW_ALL_UP_TO = 500; // smaller grids keep every card in the page: find-in-page and screen readers see all
const SETTLE_AT_ONCE = 20; // a batch with more status changes than this recolours without a fade (no muddy mixes)

function fromBase64(text, Type) {
  const bytes = Uint8Array.from(atob(text || ''), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

function changed(table, changes) {
  // a patch's texts: id -> the new value, null where it went away
  for (const [id, value] of Object.entries(changes || {})) {
    if (value === null) delete table[id];
    else table[id] = value;
  }
  return table;
}

export default {
  mixins: [keyboard, cards],
  template: `
    <div class="task-grid-host w-full">
      <div ref="grid" :id="anchor" class="task-grid w-full" :class="small ? 'grid-small' : 'grid-large'"
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
    stall: Array, // [word, Material icon, filter code] of a stalled running task's badge
    small: Boolean,
    anchor: { type: String, default: 'tasks' }, // the id the skip link goes to: a replayed board's grid has its own
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
      const stalled = wanted.has(this.stall[2]); // the Stalled chip: a flag, not a state
      const ids = [];
      for (let i = 0; i < this.count; i++) {
        if (wanted.has(this.codes[i]) || (stalled && this.stalls.has(i))) ids.push(i);
      }
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
    load(patch) {
      // no argument: the snapshot in the props; else another moment of a replay, as a patch of the one loaded
      // (grid_wire.patch): all states and percents, but only the times and texts that changed
      const s = patch || this.snapshot || {};
      if (patch && s.key === this.loadedKey) return; // the props brought this moment already
      if (patch && (s.base !== this.loadedKey || s.n !== this.count)) {
        this.$emit('resync'); // not the moment the patch was made against: the whole snapshot again
        return;
      }
      this.loadedKey = s.key;
      this.count = s.n || 0;
      this.codes = fromBase64(s.codes, Uint8Array);
      this.progress = fromBase64(s.progress, Uint8Array);
      if (patch && !s.started) for (const [id, time] of s.st) this.started[id] = time < 0 ? NaN : time;
      else this.started = fromBase64(s.started, Float32Array);
      if (patch && !s.ended) for (const [id, time] of s.en) this.ended[id] = time < 0 ? NaN : time;
      else this.ended = fromBase64(s.ended, Float32Array);
      if (patch) {
        this.errors = changed(this.errors, s.errors);
        this.attempts = changed(this.attempts, s.attempts);
      } else {
        this.errors = { ...(s.errors || {}) };
        this.attempts = { ...(s.attempts || {}) }; // id -> [attempt, [what each earlier attempt came to]]
      }
      this.stalls = new Map(s.stalled || []); // id of a stalled task -> run seconds when it stopped moving
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
      changed(this.errors, batch.err);
      Object.assign(this.attempts, batch.att || {});
      for (const id of batch.un || []) this.stalls.delete(id);
      for (const [id, since] of batch.st || []) this.stalls.set(id, since);
      const stallsMoved = (batch.un || []).length + (batch.st || []).length;
      this.elapsed = batch.e;
      if (moved.length > SETTLE_AT_ONCE) this.settleAtOnce();
      this.tick++;
      // filtered, a task that leaves (or joins) the view moves the others into new places: tell Python which
      // tasks are on screen now, or a card that slid in keeps the percent it had when it was off screen
      if (this.listed && (moved.length || stallsMoved)) this.$nextTick(this.measure);
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
  },
};
