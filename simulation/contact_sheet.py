"""The demo's contact sheet: `index.html` in the demo's output folder shows every screenshot,
every printed receipt and every card face, visit by visit in the order they were played, each
captioned in Chinese and in English, the screenshots labelled with the language and the mode
(normal or elder) the screen was in. One self-contained file: relative links to the PNGs
beside it, inline CSS, no script, no external resource; every text HTML-escaped."""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

LANGUAGE_LABELS = {"zh": ("中文", "Chinese"), "en": ("英文", "English")}
MODE_LABELS = {False: ("普通模式", "normal mode"), True: ("长辈模式", "elder mode")}
KIND_LABELS = {"screen": ("屏幕", "screen"), "receipt": ("凭条", "receipt"), "card-face": ("卡面", "card face")}


@dataclass
class Item:
    """One picture on the sheet: `path` relative to the sheet, `kind` screen, receipt or
    card-face; a screen also says its language (zh, en) and whether elder mode was on."""

    path: str
    kind: str
    caption_zh: str
    caption_en: str
    lang: str | None = None
    elder: bool | None = None


@dataclass
class Visit:
    title_zh: str
    title_en: str
    items: list[Item] = field(default_factory=list)


_CSS = """
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; margin: 1.5em; color: #1d2433;
       background: #f5f7fc; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #c5cbd8; }
.visit { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; background: #fff; border: 1px solid #d5dae5; padding: 0.5em; width: 330px; }
figure.receipt, figure.card-face { width: 220px; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #e3e6ee; }
figcaption { font-size: 0.85em; margin-top: 0.4em; }
figcaption .en { color: #4a5468; display: block; }
.label { display: inline-block; font-size: 0.8em; padding: 0 0.4em; margin-bottom: 0.3em; border-radius: 3px;
         background: #e6ecf8; }
.label.elder { background: #1d2433; color: #ffd54a; }
.label.en { background: #def3e4; }
"""


def _figure(item: Item) -> str:
    href = escape(item.path, quote=True)
    kind_zh, kind_en = KIND_LABELS[item.kind]
    labels, attributes = [], f' data-kind="{escape(item.kind)}"'
    if item.kind == "screen":
        lang_zh, lang_en = LANGUAGE_LABELS[item.lang]
        mode_zh, mode_en = MODE_LABELS[bool(item.elder)]
        mode = "elder" if item.elder else "normal"
        attributes += f' data-lang="{escape(item.lang)}" data-mode="{mode}"'
        labels.append(f'<span class="label {escape(item.lang)}">{escape(lang_zh)} · {escape(lang_en)}</span> '
                      f'<span class="label {mode}">{escape(mode_zh)} · {escape(mode_en)}</span>')
    else:
        labels.append(f'<span class="label">{escape(kind_zh)} · {escape(kind_en)}</span>')
    return (f'<figure class="{escape(item.kind)}"{attributes}>'
            f'<a href="{href}"><img src="{href}" alt="{escape(item.caption_en, quote=True)}" loading="lazy"></a>'
            f'<figcaption>{"".join(labels)}'
            f'<span class="zh" lang="zh-CN">{escape(item.caption_zh)}</span>'
            f'<span class="en" lang="en">{escape(item.caption_en)}</span></figcaption></figure>')


def render(visits: list[Visit], title_zh: str = "演示截图与打印件", title_en: str = "Demo screens and printouts") -> str:
    parts = ['<!DOCTYPE html>', '<html lang="zh-CN">', '<head>', '<meta charset="utf-8">',
             f'<title>{escape(title_zh)} · {escape(title_en)}</title>', f'<style>{_CSS}</style>', '</head>',
             '<body>', f'<h1>{escape(title_zh)}<br><span lang="en">{escape(title_en)}</span></h1>']
    for number, visit in enumerate(visits, 1):
        if not visit.items:
            continue
        parts.append(f'<section id="visit-{number}"><h2>{number}. {escape(visit.title_zh)} · '
                     f'<span lang="en">{escape(visit.title_en)}</span></h2><div class="visit">')
        parts.extend(_figure(item) for item in visit.items)
        parts.append('</div></section>')
    parts += ['</body>', '</html>', '']
    return "\n".join(parts)


def write(out: Path, visits: list[Visit]) -> Path:
    """Writes `out/index.html`; every item's file must exist under `out`."""
    missing = [item.path for visit in visits for item in visit.items if not (out / item.path).is_file()]
    if missing:
        raise FileNotFoundError(f"the contact sheet would link to missing files: {missing}")
    path = out / "index.html"
    path.write_text(render(visits), encoding="utf-8")
    return path
