// The live view's page (LIVE_PATHS.page): self-contained, no external
// resources. It shows the frames stream and the current URL and title (asked
// of live/state every second), and, when the state says this viewer may take
// over, sends clicks on the picture (in the picture's own pixels, which is
// what LiveInput carries) and typed keys to live/input. It carries its query
// string (the viewer's token) along to every URL it loads.

export const LIVE_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Live session</title>
<style>
  body { margin: 0; font: 14px system-ui, sans-serif; background: #222; color: #eee; }
  header { padding: 6px 10px; display: flex; gap: 12px; align-items: baseline; }
  #title { font-weight: bold; }
  #url { color: #aaa; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  #mode { margin-left: auto; color: #8c8; }
  img { display: block; max-width: 100%; background: #555; }
  img.takeover { cursor: crosshair; outline: 2px solid #8c8; }
</style>
</head>
<body>
<header><span id="title"></span><span id="url"></span><span id="mode"></span></header>
<img id="frames" alt="the session's current page">
<script>
  const query = location.search;
  const frames = document.getElementById('frames');
  frames.src = 'live/frames' + query;
  let takeover = false;
  async function poll() {
    try {
      const state = await (await fetch('live/state' + query)).json();
      document.getElementById('title').textContent = state.title || '';
      document.getElementById('url').textContent = state.url || '';
      takeover = state.takeover;
      document.getElementById('mode').textContent = takeover ? 'takeover: clicks and keys reach the page' : 'view only';
      frames.className = takeover ? 'takeover' : '';
    } catch {
      document.getElementById('mode').textContent = 'session ended';
    }
  }
  poll();
  setInterval(poll, 1000);
  const send = (input) => fetch('live/input' + query, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input),
  });
  frames.addEventListener('click', (event) => {
    if (!takeover) return;
    const scale = frames.naturalWidth / frames.clientWidth;
    send({ type: 'click', x: Math.round(event.offsetX * scale), y: Math.round(event.offsetY * scale) });
  });
  const keys = ['Enter', 'Backspace', 'Tab', 'Escape', 'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'];
  document.addEventListener('keydown', (event) => {
    if (!takeover || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.length === 1) send({ type: 'text', text: event.key });
    else if (keys.includes(event.key)) send({ type: 'key', key: event.key });
    else return;
    event.preventDefault();
  });
</script>
</body>
</html>
`;
