#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Draw a flame graph SVG from folded stacks ("root;caller;callee COUNT").

    flamegraph.py [--title TEXT] < stacks.folded > graph.svg

The folded form is Brendan Gregg's (stackcollapse): one line per distinct
stack, outermost frame first, and its sample count. Each frame is a box as
wide as the samples under it; hovering shows its name, samples and share.
htable's frames (module symbols, "[htable]") are drawn in blue, the rest in
the usual warm colours. scripts/profile.sh makes the input in the guest.
"""
import argparse
import html
import sys
import zlib

WIDTH = 1200
ROW = 16
PAD = 10
TOP = 40
FONT = 11
CHAR_W = FONT * 0.59  # Verdana's average advance, near enough


class Node:
    def __init__(self, name):
        self.name = name
        self.count = 0
        self.kids = {}


def parse(lines):
    root = Node("all")
    for line in lines:
        line = line.rstrip("\n")
        if not line or " " not in line:
            continue
        stack, _, n = line.rpartition(" ")
        try:
            n = int(n)
        except ValueError:
            continue
        root.count += n
        node = root
        for frame in stack.split(";"):
            node = node.kids.setdefault(frame, Node(frame))
            node.count += n
    return root


def depth(node):
    return 1 + max((depth(k) for k in node.kids.values()), default=0)


def colour(name):
    h = zlib.crc32(name.encode())
    if name.endswith("[htable]") or name.startswith("htable"):
        return "rgb(%d,%d,%d)" % (80 + h % 60, 130 + h % 70, 220)
    return "rgb(%d,%d,%d)" % (205 + h % 50, 80 + (h >> 8) % 130, 40 + (h >> 16) % 40)


def draw(root, title):
    levels = depth(root)
    height = TOP + levels * ROW + 2 * PAD
    scale = (WIDTH - 2 * PAD) / max(root.count, 1)
    out = [
        '<?xml version="1.0" standalone="no"?>',
        '<svg version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" '
        'xmlns="http://www.w3.org/2000/svg" font-family="Verdana" '
        'font-size="%d">' % (WIDTH, height, WIDTH, height, FONT),
        '<rect width="100%" height="100%" fill="#f8f8f0"/>',
        '<text x="%d" y="24" text-anchor="middle" font-size="16">%s</text>'
        % (WIDTH // 2, html.escape(title)),
    ]

    def box(node, x, level):
        w = node.count * scale
        if w < 0.3:
            return
        y = height - PAD - (level + 1) * ROW
        tip = "%s (%d samples, %.2f%%)" % (node.name, node.count,
                                           100.0 * node.count / max(root.count, 1))
        out.append('<g><title>%s</title><rect x="%.1f" y="%d" width="%.1f" '
                   'height="%d" rx="2" fill="%s"/>'
                   % (html.escape(tip), x, y, w, ROW - 1, colour(node.name)))
        fit = int((w - 6) / CHAR_W)
        if fit >= 3:
            label = node.name if len(node.name) <= fit else node.name[:fit - 2] + ".."
            out.append('<text x="%.1f" y="%d">%s</text>'
                       % (x + 3, y + ROW - 4, html.escape(label)))
        out.append("</g>")
        for kid in sorted(node.kids.values(), key=lambda k: k.name):
            box(kid, x, level + 1)
            x += kid.count * scale

    box(root, PAD, 0)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--title", default="Flame graph")
    args = ap.parse_args()
    root = parse(sys.stdin)
    if not root.count:
        sys.exit("flamegraph.py: no samples in the input")
    sys.stdout.write(draw(root, args.title))


if __name__ == "__main__":
    main()
