// A small, safe markdown renderer for model answers: it builds DOM nodes and only ever sets
// text, so nothing a model (or a document it quotes) writes can become markup or script.
// Covers what answers use: fenced and inline code, headings, lists, quotes, paragraphs,
// bold/italic and links (http and https only; anything else stays text).
"use strict";
(function () {
  const INLINE =
    /(`+)([\s\S]*?[^`])\1(?!`)|\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__|\*(?=[^*\s])([^*]*?[^*\s])\*|(?<![\w])_(?=[^_\s])([^_]*?[^_\s])_(?![\w])|\[([^\]\n]+)\]\(([^)\s]+)\)/g;

  function el(tag, cls) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    return node;
  }

  function safeHref(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function inline(parent, text) {
    let last = 0;
    // matchAll iterates over its own copy of the pattern: the nested calls keep their place.
    for (const m of text.matchAll(INLINE)) {
      if (m.index > last) parent.append(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[2] !== undefined) {
        const code = el("code");
        code.textContent = m[2].replace(/^ (.*) $/s, "$1");
        parent.append(code);
      } else if (m[3] !== undefined || m[4] !== undefined) {
        const strong = el("strong");
        inline(strong, m[3] ?? m[4]);
        parent.append(strong);
      } else if (m[5] !== undefined || m[6] !== undefined) {
        const em = el("em");
        inline(em, m[5] ?? m[6]);
        parent.append(em);
      } else {
        const href = safeHref(m[8]);
        if (href === null) {
          parent.append(m[0]);
          continue;
        }
        const a = el("a");
        a.href = href;
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        inline(a, m[7]);
        parent.append(a);
      }
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  function lines(parent, textLines) {
    textLines.forEach((line, i) => {
      if (i) parent.append(el("br"));
      inline(parent, line);
    });
  }

  const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+.#-]*)/;
  const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
  const BULLET = /^ {0,3}([-*+])\s+(.*)$/;
  const ORDERED = /^ {0,3}(\d{1,9})[.)]\s+(.*)$/;
  const QUOTE = /^ {0,3}>\s?(.*)$/;
  const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;

  function isBlockStart(line) {
    return (
      FENCE.test(line) || HEADING.test(line) || BULLET.test(line) || ORDERED.test(line) ||
      QUOTE.test(line) || RULE.test(line)
    );
  }

  function blocks(parent, src) {
    const all = src.replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < all.length) {
      const line = all[i];
      let m;
      if (!line.trim()) {
        i++;
      } else if ((m = FENCE.exec(line))) {
        // An unclosed fence (an answer still streaming) runs to the end.
        const body = [];
        for (i++; i < all.length && !all[i].trimStart().startsWith(m[1]); i++) body.push(all[i]);
        i++;
        const pre = el("pre");
        const code = el("code");
        if (m[2]) {
          code.className = "language-" + m[2];
          code.dataset.lang = m[2];
        }
        code.textContent = body.join("\n");
        pre.append(code);
        parent.append(pre);
      } else if ((m = HEADING.exec(line))) {
        // Answers sit under the page's own headings: keep theirs below h2.
        const h = el("h" + Math.min(6, m[1].length + 2));
        inline(h, m[2]);
        parent.append(h);
        i++;
      } else if (RULE.test(line)) {
        parent.append(el("hr"));
        i++;
      } else if (QUOTE.test(line)) {
        const inner = [];
        for (; i < all.length && (m = QUOTE.exec(all[i])); i++) inner.push(m[1]);
        const quote = el("blockquote");
        blocks(quote, inner.join("\n"));
        parent.append(quote);
      } else if (BULLET.test(line) || ORDERED.test(line)) {
        const pattern = BULLET.test(line) ? BULLET : ORDERED;
        const list = el(pattern === BULLET ? "ul" : "ol");
        const first = ORDERED.exec(line);
        if (first && first[1] !== "1") list.start = Number(first[1]);
        let item = null;
        for (; i < all.length; i++) {
          const cur = all[i];
          if ((m = pattern.exec(cur))) {
            item = el("li");
            inline(item, m[2]);
            list.append(item);
          } else if (cur.trim() && /^\s{2,}/.test(cur) && item) {
            item.append(el("br"));
            inline(item, cur.trim());
          } else {
            break;
          }
        }
        parent.append(list);
      } else {
        const para = [];
        for (; i < all.length && all[i].trim() && (!para.length || !isBlockStart(all[i])); i++) {
          para.push(all[i]);
        }
        const p = el("p");
        lines(p, para);
        parent.append(p);
      }
    }
  }

  // Replace `target`'s children with `src` rendered.
  function render(target, src) {
    const frag = document.createDocumentFragment();
    blocks(frag, src);
    target.replaceChildren(frag);
  }

  window.WaylineMarkdown = { render };
})();
