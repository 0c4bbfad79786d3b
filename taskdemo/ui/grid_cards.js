// What a card says (its face, its accessible name, its tooltip), mixed into task_grid.js. A stalled running task
// keeps its state and percent, and says "Stalled" with an hourglass in place of "Running" (words, not colour alone).
export const RUNNING = 'in_progress';
const TIMED_OUT = /^timed out after \S+ s$/; // model.timeout_message: its card says "Timed out" for "Failed"

export const cards = {
  methods: {
    state(i) {
      return this.states[this.codes[i]] || this.states[0];
    },
    facts(i) {
      const [name, word, icon] = this.state(i);
      const started = this.started[i];
      const ended = this.ended[i];
      const done = !Number.isNaN(ended) && ended !== undefined;
      const ran = !Number.isNaN(started) && started !== undefined;
      const since = name === RUNNING && this.stalls.has(i) ? this.stalls.get(i) : null;
      return {
        name, word, icon, done,
        stalled: since !== null,
        timedOut: name === 'failed' && TIMED_OUT.test(this.errors[i] || ''),
        still: since !== null && since >= 0 ? Math.max(0, this.elapsed - since) : null, // seconds without moving
        known: this.percentKnown(i, name),
        progress: this.progress[i],
        seconds: ran ? Math.max(0, (done ? ended : this.elapsed) - started) : null,
        attempt: this.attempts[i] ? this.attempts[i][0] : 1,
        error: this.errors[i],
      };
    },
    cardClass(i) {
      const name = this.state(i)[0];
      return 'task-card task-' + name + (name === RUNNING && this.stalls.has(i) ? ' task-stalled' : '');
    },
    cardHtml(i) {
      const f = this.facts(i);
      let detail = '';
      let bar = '';
      if (f.name === RUNNING || f.name === 'interrupted') {
        detail = f.known ? `${f.progress}%` : '…%';
        bar = `<span class="task-bar">${f.known ? `<span style="width:${f.progress}%"></span>` : ''}</span>`;
      } else if (f.name === 'failed' && f.timedOut) {
        detail = `at ${f.progress}%`;
      } else if (f.name === 'failed') {
        detail = `at ${f.progress}% · ${escapeHtml(shortError(f.error))}`;
      } else if (f.name === 'completed' && f.seconds !== null) {
        detail = duration(f.seconds);
      }
      const attempt = f.attempt > 1 ? `<span class="task-attempt">↻${f.attempt}</span>` : '';
      const state = f.stalled
        ? `<span class="task-state task-stall" data-icon="${this.stall[1]}">${this.stall[0]}</span>` // icon: grid.css
        : `<span class="task-state">${f.timedOut ? 'Timed out' : f.word}</span>`;
      return `<span class="task-head" aria-hidden="true"><span class="task-num">#${i}</span>${attempt}` +
        `<span class="task-icon">${f.icon}</span></span>${state}<span class="task-pct">${detail}</span>${bar}`;
    },
    label(i) { // the card's accessible name: what its face and the tooltip's first line say, in words
      const f = this.facts(i);
      const parts = [`Task ${i}: ${f.word}`, f.known ? `${f.progress}%` : 'percent updating'];
      if (f.stalled) parts.push(stalledWords(f.still));
      if (f.attempt > 1) parts.push(`attempt ${f.attempt}`);
      if (f.done && f.seconds !== null) parts.push(`took ${duration(f.seconds)}`);
      if (f.error) parts.push(f.error);
      return parts.join(' · ');
    },
    tipLines(i) {
      const f = this.facts(i);
      const head = [`Task ${i}: ${f.word}`, f.known ? `${f.progress}%` : 'percent updating'];
      if (f.stalled) head.push(stalledWords(f.still));
      if (f.attempt > 1) head.push(`attempt ${f.attempt}`);
      const lines = [head.join(' · ')];
      if (f.seconds !== null && f.done) lines.push(`took ${duration(f.seconds)}`);
      else if (f.seconds !== null && f.stalled) lines.push(`${duration(f.seconds)} so far · no ETA while it hangs`);
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

function duration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

function stalledWords(still) { // "stalled: no progress for 12.0 s"
  return still === null ? 'stalled' : `stalled: no progress for ${duration(still)}`;
}

function shortError(error) { // fits a 6.5rem card (clipped with an ellipsis there); the tooltip has it whole
  return (error || 'failed').replace(/^Simulated failure:\s*/, '');
}

function escapeHtml(text) { // errors come from tasks: on a card they are text, never markup
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
