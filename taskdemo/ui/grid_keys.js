// The grid's keyboard, focus and tooltip, mixed into task_grid.js: a WAI-ARIA grid with one tab stop (roving
// tabindex); arrows, Home/End, Ctrl+Home/End, PageUp/Down move among the listed tasks, drawing a card first when
// it is not in the DOM; Enter or Space opens its details, and focus comes back to the card when they close. One
// Quasar tooltip follows the hovered or focused card.
export const keyboard = {
  methods: {
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
  },
};

function coverEdge(x, y, edge) { // where a sticky or fixed element at this point of the window ends, if any
  for (let element = document.elementFromPoint(x, y); element && element !== document.body;
    element = element.parentElement) {
    if (/sticky|fixed/.test(getComputedStyle(element).position)) return element.getBoundingClientRect()[edge];
  }
  return null;
}
