#!/usr/bin/env python3
"""Writes the API reference (docs/api/*.md) from the XML documentation the compiler emits for src/Export.

    dotnet build src/Export -c Release
    python3 docs/api/generate.py src/Export/bin/Release/net10.0/Bnn.Onnx.Export.xml docs/api

Only the public API (namespace Bnn.Onnx) is written: one page per type and an index (README.md).
"""
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

NAMESPACE = "Bnn.Onnx."
ARGUMENT_COMMA = r",(?![^{]*\})(?![^\[]*\])"  # a comma between arguments, not inside a generic's braces or an array's brackets


def short(type_name):
    """System.Collections.Generic.IReadOnlyList{System.String} -> IReadOnlyList<String>."""
    type_name = re.sub(r"\b(?:[A-Za-z_][A-Za-z0-9_]*\.)+([A-Za-z_][A-Za-z0-9_]*)", r"\1", type_name)
    type_name = type_name.replace("[0:,0:]", "[,]")
    return type_name.replace("{", "<").replace("}", ">").replace("@", "")


def text(node):
    """The inner text of a doc element as Markdown."""
    if node is None:
        return ""
    out = [node.text or ""]
    for child in node:
        if child.tag in ("see", "seealso"):
            cref = child.get("cref") or ""
            label = child.text or cref.split(":", 1)[-1].split("(")[0]
            target = cref.split(":", 1)[-1].split("(")[0]
            if cref.startswith("T:" + NAMESPACE):
                out.append(f"[{short(label)}]({target}.md)")
            elif cref[:2] in ("M:", "P:", "F:") and target.startswith(NAMESPACE):
                owner = target.rsplit(".", 1)[0]
                out.append(f"[{short(label) if child.text else short('.'.join(target.split('.')[-2:]))}]({owner}.md)")
            else:
                out.append(f"`{short(label) if not child.get('langword') else child.get('langword')}`")
        elif child.tag == "c":
            out.append(f"`{''.join(child.itertext())}`")
        elif child.tag in ("paramref", "typeparamref"):
            out.append(f"`{child.get('name')}`")
        elif child.tag == "code":
            out.append("\n```csharp\n" + "\n".join(l.strip() for l in "".join(child.itertext()).strip().splitlines()) + "\n```\n")
        elif child.tag == "list":
            out.append("\n" + "\n".join(f"- {text(i.find('description') if i.find('description') is not None else i)}" for i in child) + "\n")
        elif child.tag == "para":
            out.append("\n\n" + text(child) + "\n\n")
        else:
            out.append(text(child))
        out.append(child.tail or "")
    return re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(out)).strip().replace("\n\n\n", "\n\n")


def one_line(s):
    return re.sub(r"\s*\n\s*", " ", s)


def cell(s):
    """Text for a Markdown table cell: one line, pipes escaped."""
    return one_line(s).replace("|", "\\|")


def main(xml_path, out_dir):
    root = ET.parse(xml_path).getroot()
    types, members = {}, {}
    for m in root.iter("member"):
        name = m.get("name")
        kind, full = name.split(":", 1)
        if kind == "T" and full.startswith(NAMESPACE) and full.count(".") == 2:
            types[full] = m
        elif kind in ("M", "P", "F", "E"):
            owner = full.split("(")[0].rsplit(".", 1)[0]
            if owner.startswith(NAMESPACE) and owner.count(".") == 2:
                members.setdefault(owner, []).append((kind, full, m))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(NAMESPACE + "*.md"):
        old.unlink()
    index = ["# Bnn.Onnx API reference", "",
             "Generated from the XML documentation of `src/Export` (namespace `Bnn.Onnx`) by `docs/api/generate.py`:", "",
             "```", "dotnet build src/Export -c Release",
             "python3 docs/api/generate.py src/Export/bin/Release/net10.0/Bnn.Onnx.Export.xml docs/api", "```", "",
             "| type | summary |", "| --- | --- |"]
    for full in sorted(types):
        m = types[full]
        name = full[len(NAMESPACE):]
        summary = text(m.find("summary"))
        index.append(f"| [{name}]({full}.md) | {cell(summary)} |")
        page = [f"# {name}", "", f"Namespace `Bnn.Onnx`, assembly `Bnn.Onnx.Export` (package `Bnn.Onnx`).", "", summary, ""]
        params = m.findall("param")
        if params:
            page += ["| parameter | meaning |", "| --- | --- |"]
            page += [f"| `{p.get('name')}` | {cell(text(p))} |" for p in params]
            page.append("")
        if m.find("example") is not None:
            page += ["## Example", "", text(m.find("example")), ""]
        for title, kinds in (("Members", ("M", "P", "F", "E")),):
            entries = sorted(members.get(full, []), key=lambda e: (e[0] != "M" or ".#ctor" not in e[1], e[0], e[1]))
            if not entries:
                continue
            page += [f"## {title}", ""]
            for kind, member, mm in entries:
                signature = member[len(full) + 1:].replace("#ctor", name)
                if "(" in signature:
                    head, args = signature.split("(", 1)
                    arguments = [short(a) for a in re.split(ARGUMENT_COMMA, args[:-1])]
                    signature = head + "(" + ", ".join(arguments) + ")"
                signature = re.sub(r"``(\d)", "<T>", signature)
                label = {"M": "method", "P": "property", "F": "field", "E": "event"}[kind]
                if ".#ctor" in member:
                    label = "constructor"
                page += [f"### `{signature}` ({label})", "", text(mm.find("summary")) or text(mm.find("inheritdoc")) or "(see the overload above)", ""]
                for p in mm.findall("param"):
                    page.append(f"- `{p.get('name')}`: {one_line(text(p))}")
                if mm.findall("param"):
                    page.append("")
                if mm.find("returns") is not None:
                    page += [f"Returns: {one_line(text(mm.find('returns')))}", ""]
        (out / f"{full}.md").write_text("\n".join(page).rstrip() + "\n", encoding="utf-8")
    (out / "README.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    print(f"wrote {len(types)} type pages and README.md to {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
