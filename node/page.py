"""The node's web page (`GET /`): a minimal view of what this node knows.

Owns the HTML only; the page reads the same JSON as everyone else (`GET /state`).
"""

from __future__ import annotations

import html

__all__ = ["render_page"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gossip Lab: {node}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 1rem; color: #1a1a1a; }}
table {{ border-collapse: collapse; width: 100%; max-width: 60rem; }}
th, td {{ text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ccc; }}
code {{ font-size: .9em; }}
</style>
</head>
<body>
<main>
<h1>Gossip node <code>{node}</code></h1>
<p id="me">loading…</p>
<h2>What this node knows</h2>
<table>
<thead><tr><th scope="col">origin</th><th scope="col">favourite</th>
<th scope="col">version</th><th scope="col">learned</th></tr></thead>
<tbody id="origins"></tbody>
</table>
</main>
<script>
async function refresh() {{
  try {{
    const s = await (await fetch("state")).json();
    document.getElementById("me").textContent =
      `favourite: ${{s.movie}} (version ${{s.version}}), peers: ${{Object.keys(s.peers).length}}`;
    const rows = Object.entries(s.origins).map(([o, e]) => {{
      const tr = document.createElement("tr");
      for (const v of [o, e.movie, e.version, `${{e.age_s.toFixed(1)}} s ago`]) {{
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }}
      return tr;
    }});
    document.getElementById("origins").replaceChildren(...rows);
  }} catch (e) {{ document.getElementById("me").textContent = "node unreachable"; }}
}}
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
"""


def render_page(node_id: str) -> str:
    return _PAGE.format(node=html.escape(node_id))
