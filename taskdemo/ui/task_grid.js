// The task grid, drawn in the browser. Python sends one snapshot (the `snapshot` prop, for a new run) and then
// one small batch per tick (`apply`). Task state lives in typed arrays, outside Vue's reactivity; only the rows
// on screen are in the DOM, so 10,000 tasks cost what a screenful does. The browser tells Python which tasks
// it shows (`range`), so that the percent of cards off screen need not travel at all.
const BUFFER_ROWS = 4;
const DRAW_ALL_UP_TO = 500; // smaller grids keep every card in the page: find-in-page and screen readers see all

function fromBase64(text, Type) {
  const bytes = Uint8Array.from(atob(text || ''), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer, 0, bytes.byteLength / Type.BYTES_PER_ELEMENT);
}

export default {
  template: `
    <div ref="grid" class="task-grid w-full" :class="small ? 'grid-small' : 'grid-large'" role="list"
         aria-label="Tasks" :style="{paddingTop: padTop + 'px', paddingBottom: padBottom + 'px'}">
      <div v-for="(i, n) in shown" :key="i" :class="cardClass(i)" role="listitem" :title="title(i)" tabindex="0"
           :aria-posinset="first + n + 1" :aria-setsize="size" :data-task="i" v-html="cardHtml(i)"
           @click="$emit('open', {id: i})" @keydown.enter.prevent="$emit('open', {id: i})"></div>
    </div>`,
  props: {
    snapshot: Object,
    states: Array, // [wire name, word, icon] by state code
    small: Boolean,
  },
  data() {
    return { tick: 0, first: 0, last: 0, columns: 1, rowHeight: 80, count: 0, filter: [] };
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
    this.measure();
  },
  unmounted() {
    window.removeEventListener('scroll', this.onScroll);
    window.removeEventListener('resize', this.onScroll);
    this.resizeObserver.disconnect();
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
      this.reported = null;
      if (this.$refs.grid) this.measure();
      else this.last = Math.min(this.count, DRAW_ALL_UP_TO);
      this.tick++;
    },
    apply(batch) {
      for (const packed of batch.p || []) this.progress[packed >> 7] = packed & 127;
      for (const [id, code, progress, started, ended] of batch.s || []) {
        this.codes[id] = code;
        this.progress[id] = progress;
        this.started[id] = started < 0 ? NaN : started;
        this.ended[id] = ended < 0 ? NaN : ended;
      }
      for (const [id, error] of Object.entries(batch.err || {})) {
        if (error === null) delete this.errors[id];
        else this.errors[id] = error;
      }
      Object.assign(this.attempts, batch.att || {});
      this.elapsed = batch.e;
      this.tick++;
      // filtered, a task that leaves (or joins) the view moves the others into new places: tell Python which
      // tasks are on screen now, or a card that slid in keeps the percent it had when it was off screen
      if (this.listed && (batch.s || []).length) this.$nextTick(this.measure);
    },
    showOnly(codes) {
      this.filter = codes || [];
      this.$nextTick(this.measure);
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
      if (size <= DRAW_ALL_UP_TO) {
        this.first = 0;
        this.last = size;
      } else {
        const top = grid.getBoundingClientRect().top;
        const firstRow = Math.max(0, Math.floor(-top / this.rowHeight) - BUFFER_ROWS);
        const lastRow = Math.ceil((window.innerHeight - top) / this.rowHeight) + BUFFER_ROWS;
        this.first = Math.min(size, firstRow * this.columns);
        this.last = Math.min(size, Math.max(this.first, lastRow * this.columns));
      }
      if (this.count <= DRAW_ALL_UP_TO) return; // Python sends every percent of a small grid anyway
      // filtered, the same places may hold other tasks after a batch: the report names the tasks themselves
      const range = this.listed ? `ids:${this.shown.join(',')}` : `range:${this.first}:${this.last}`;
      if (range !== this.reported) {
        this.reported = range;
        this.$emit('range', this.listed ? { ids: this.shown } : { lo: this.first, hi: this.last });
      }
    },
    state(i) {
      return this.states[this.codes[i]] || this.states[0];
    },
    cardClass(i) {
      return 'task-card task-' + this.state(i)[0];
    },
    cardHtml(i) {
      const [name, word, icon] = this.state(i);
      const showsPercent = name === 'in_progress' || name === 'interrupted';
      const percent = showsPercent ? this.progress[i] + '%' : '';
      const bar = showsPercent ? `<span class="task-bar"><span style="width:${this.progress[i]}%"></span></span>` : '';
      const n = this.attempts[i] ? this.attempts[i][0] : 1;
      const attempt = n > 1 ? `<span class="task-attempt"><span aria-hidden="true">↻${n}</span>` +
        `<span class="sr-only">attempt ${n}</span></span>` : '';
      return `<span class="task-head"><span class="task-num">#${i}</span>${attempt}` +
        `<span class="task-icon" aria-hidden="true">${icon}</span></span>` +
        `<span class="task-state">${word}</span><span class="task-pct">${percent}</span>${bar}`;
    },
    title(i) {
      const [name, word] = this.state(i);
      const parts = [`Task ${i}: ${word}`, `${this.progress[i]}%`];
      const started = this.started[i];
      if (!Number.isNaN(started) && started !== undefined) {
        const ended = this.ended[i];
        const done = !Number.isNaN(ended);
        const seconds = (done ? ended : this.elapsed) - started;
        parts.push(`${seconds.toFixed(1)} s` + (done || name === 'pending' ? '' : ' so far'));
        if (name === 'in_progress') {
          // the same estimate as the run's ETA (insight.py): this task's own rate so far
          const progress = this.progress[i];
          parts.push(progress >= 1 && seconds > 0 ? `ETA ${((100 - progress) * seconds / progress).toFixed(0)} s`
                                                  : 'ETA estimating');
        }
      }
      if (this.attempts[i]) parts.push(`attempt ${this.attempts[i][0]}`);
      const error = this.errors[i];
      const earlier = this.attempts[i] ? this.attempts[i][1] : [];
      return [parts.join(' · '), ...(error ? [error] : []), ...earlier].join('\n');
    },
  },
};
