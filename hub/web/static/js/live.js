// The agent websocket: reconnects with exponential backoff and tells the inbox when it is back.

const MAX_DELAY_MS = 30000;

export class Live {
  constructor({ onFrame, onState }) {
    this.onFrame = onFrame;
    this.onState = onState;
    this.ws = null;
    this.attempts = 0;
    this.stopped = false;
    this.pingTimer = null;
  }

  connect() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${window.location.host}/ws/agent`);
    this.ws = ws;
    this.onState('connecting', this.attempts);
    ws.addEventListener('open', () => {
      const reconnected = this.attempts > 0;
      this.attempts = 0;
      this.onState('open', reconnected);
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: 'ping' }), 20000);
    });
    ws.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener('close', () => {
      clearInterval(this.pingTimer);
      if (this.ws !== ws || this.stopped) return;
      const delay = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempts) * (0.75 + Math.random() / 2);
      this.attempts += 1;
      this.onState('closed', delay);
      setTimeout(() => this.connect(), delay);
    });
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  /** Drop the connection as a network failure would (used to test catching up). */
  drop() {
    if (this.ws) this.ws.close();
  }
}
