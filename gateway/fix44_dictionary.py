#!/usr/bin/env python3
"""The exchange's FIX 4.4 data dictionary, generated at build time.

QuickFIX's FIX44.xml is not installed by Debian's libquickfix-dev, but the
code QuickFIX generated from it is: fix44/<Message>.h (every message: its
MsgType, its required fields as constructor arguments, every field in order,
nested repeating groups with count tag, delimiter and order), fix44/Message.h
(header and trailer), FixFields.h (field types), FixFieldNumbers.h (tags) and
FixValues.h (enumerated values, Field_VALUE). This script rebuilds the
standard FIX 4.4 dictionary from them in QuickFIX's XML format, then merges
the exchange's own extension (gateway/haihe-fix44-ext.xml: user-defined
fields, where they go, extra values of standard fields).

    fix44_dictionary.py --include /usr/include --ext gateway/haihe-fix44-ext.xml \
        --standard fix44-standard.xml --out haihe-fix44.xml

What the headers cannot say, and how it is resolved (each resolution accepts
a superset of FIX 4.4, never less):
  * Required fields inside components and repeating groups, and required
    groups: QuickFIX's generator puts only a message's own required fields
    in its constructor. Those are required here; fields of groups and of
    components are optional (the group's delimiter still starts each entry).
  * FixValues.h and FixFields.h describe every FIX version at once. Values are
    the union over versions. A field whose FixFields.h type cannot hold all
    its values (a CHAR with multi-character values, an INT with non-numeric
    ones) is typed STRING. Fields that FIX 4.4 leaves free but later
    versions enumerate (FREE_IN_FIX44 below) carry no values.
Output is deterministic (the same headers give the same bytes).
"""

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

# Fields FIX 4.4 leaves open (free text, identifiers, exchange codes) whose
# FixValues.h entries come from other FIX versions: listing them as an
# enumeration would refuse valid FIX 4.4.
FREE_IN_FIX44 = {
    "TradingSessionID",      # 336: free in 4.4; enumerated from FIX 5.0 SP1
    "TradingSessionSubID",   # 625: likewise
    "StipulationValue",      # 234: free text/number; 4.4 lists only special values
    "ExDestination",         # 100: an exchange code (MIC) in 4.4
    "SecurityExchange",      # 207: likewise
    "IOIQty",                # 27: a number or S/M/L/U in 4.4
    "MDEntryOriginator",     # 282: free
    "LocationID",            # 283: free
    "DeskID",                # 284: free
    "SymbolSfx",             # 65: free for equities in 4.4 (CD, WI are its fixed-income values)
    "StipulationType",       # 233: 4.4 allows other types by mutual agreement
    "PartySubIDType",        # 803: 4.4 reserves 4000+ for bilaterally agreed values
}

# The standard header and trailer fields FIX 4.4 makes required.
HEADER_REQUIRED = {"BeginString", "BodyLength", "MsgType", "SenderCompID", "TargetCompID", "MsgSeqNum",
                   "SendingTime"}
TRAILER_REQUIRED = {"CheckSum"}
ADMIN_TYPES = {"0", "1", "2", "3", "4", "5", "A"}

# FixFields.h DEFINE_<X> -> the type name QuickFIX's DataDictionary reads.
TYPE_NAMES = {"CHECKSUM": "STRING"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def parse_numbers(inc):
    numbers = {}
    for name, tag in re.findall(r"const int (\w+) = (\d+);", read(os.path.join(inc, "FixFieldNumbers.h"))):
        numbers[name] = int(tag)
    return numbers


def parse_types(inc):
    types = {}
    for kind, name in re.findall(r"DEFINE_(\w+)\((\w+)\)", read(os.path.join(inc, "FixFields.h"))):
        types[name] = TYPE_NAMES.get(kind, kind)
    return types


def parse_values(inc):
    """Field name -> [(value, description)] in header order, duplicates dropped."""
    values = {}
    text = read(os.path.join(inc, "FixValues.h"))
    pattern = re.compile(r"const (char|int) (\w+?)_(\w+)(\[\])? = ('(.)'|\"([^\"]*)\"|(-?\d+));")
    for m in pattern.finditer(text):
        field, desc = m.group(2), m.group(3)
        value = m.group(6) if m.group(6) is not None else m.group(7) if m.group(7) is not None else m.group(8)
        if field == "MsgType":
            continue
        seen = values.setdefault(field, [])
        if all(v != value for v, _ in seen):
            seen.append((value, desc))
    return values


class Node:
    """A message, group or the header: its fields and groups in order."""

    def __init__(self, name, count=None, delim=None, order=None):
        self.name = name          # message name, or the group's count field
        self.count = count
        self.delim = delim
        self.order = order or []  # group: tags in order (message_order)
        self.items = []           # ("field", name) or ("group", Node)
        self.required = set()


def parse_class_body(lines, start, indent):
    """Parses FIELD_SET lines and nested groups until the class's closing '};'."""
    node_items = []
    i = start
    end_line = " " * indent + "};"
    while i < len(lines):
        line = lines[i]
        if line.rstrip() == end_line:
            return node_items, i + 1
        m = re.match(r"\s*FIELD_SET\(\*this, FIX::(\w+)\);", line)
        if m:
            node_items.append(("field", m.group(1)))
            i += 1
            continue
        m = re.match(r"(\s*)class (\w+): public FIX::Group", line)
        if m:
            g_indent = len(m.group(1))
            ctor = lines[i + 3] if "FIX::Group(" not in lines[i + 2] else lines[i + 2]
            cm = re.search(r"FIX::Group\((\d+),(\d+),FIX::message_order\(([\d,]+)\)\)", ctor)
            if not cm:
                sys.exit("cannot read the group %s: %s" % (m.group(2), ctor))
            order = [int(t) for t in cm.group(3).split(",") if t != "0"]
            group = Node(m.group(2), int(cm.group(1)), int(cm.group(2)), order)
            group.items, i = parse_class_body(lines, i + 1, g_indent)
            # The count field's FIELD_SET precedes the class: replace it by the group.
            if not node_items or node_items[-1] != ("field", group.name):
                sys.exit("group %s without its count field" % group.name)
            node_items[-1] = ("group", group)
            continue
        i += 1
    sys.exit("unterminated class at line %d" % start)


def parse_message(path):
    lines = read(path).splitlines()
    text = "\n".join(lines)
    cm = re.search(r"^  class (\w+) : public Message$", text, re.M)
    if not cm:
        return None
    name = cm.group(1)
    msgtype = re.search(r'static FIX::MsgType MsgType\(\) \{ return FIX::MsgType\("(\w+)"\); \}', text).group(1)
    msg = Node(name)
    msg.msgtype = msgtype
    ctor = re.search(r"^    %s\(\n((?:      const FIX::\w+& a\w+(?:,| \))\n)+)" % name, text, re.M)
    if ctor:
        msg.required = set(re.findall(r"const FIX::(\w+)&", ctor.group(1)))
    start = next(i for i, l in enumerate(lines) if l.startswith("  class %s : public Message" % name))
    msg.items, _ = parse_class_body(lines, start + 2, 2)
    return msg


def parse_header(inc):
    lines = read(os.path.join(inc, "fix44", "Message.h")).splitlines()
    h = next(i for i, l in enumerate(lines) if l.startswith("  class Header"))
    t = next(i for i, l in enumerate(lines) if l.startswith("  class Trailer"))
    header = Node("header")
    header.items, _ = parse_class_body(lines, h + 2, 2)
    trailer = Node("trailer")
    trailer.items, _ = parse_class_body(lines, t + 2, 2)
    return header, trailer


def field_names(node, out):
    for kind, item in node.items:
        if kind == "field":
            out.add(item)
        else:
            out.add(item.name)
            field_names(item, out)
    return out


def check_group_order(node, numbers):
    for kind, item in node.items:
        if kind != "group":
            continue
        # message_order lists the group's fields in order, with or without the
        # count fields of its nested groups.
        tags = [numbers[n if k == "field" else n.name] for k, n in item.items]
        fields = {numbers[n] for k, n in item.items if k == "field"}
        in_order = [t for t in tags if t in set(item.order)]
        if (in_order != item.order or not fields <= set(item.order) or tags[0] != item.delim or
                numbers[item.name] != item.count):
            sys.exit("group %s: fields %s differ from its order %s" % (item.name, tags, item.order))
        check_group_order(item, numbers)


def field_type(name, types, values):
    t = types[name]
    vals = [v for v, _ in values.get(name, [])]
    if t == "CHAR" and any(len(v) != 1 for v in vals):
        return "STRING"
    if t in ("INT", "NUMINGROUP", "SEQNUM", "LENGTH") and any(not re.fullmatch(r"-?\d+", v) for v in vals):
        return "STRING"
    return t


def standard_dictionary(inc):
    numbers, types, values = parse_numbers(inc), parse_types(inc), parse_values(inc)
    header, trailer = parse_header(inc)
    messages = []
    for fname in sorted(os.listdir(os.path.join(inc, "fix44"))):
        if fname in ("Message.h", "MessageCracker.h") or not fname.endswith(".h"):
            continue
        msg = parse_message(os.path.join(inc, "fix44", fname))
        if msg is not None:
            messages.append(msg)
    if len(messages) < 90:
        sys.exit("only %d FIX 4.4 messages found under %s/fix44" % (len(messages), inc))
    used = set()
    for node in [header, trailer] + messages:
        field_names(node, used)
        check_group_order(node, numbers)
    header.required = HEADER_REQUIRED
    trailer.required = TRAILER_REQUIRED

    root = ET.Element("fix", type="FIX", major="4", minor="4", servicepack="0")

    def emit(parent, node):
        for kind, item in node.items:
            if kind == "field":
                ET.SubElement(parent, "field", name=item, required="Y" if item in node.required else "N")
            else:
                g = ET.SubElement(parent, "group", name=item.name,
                                  required="Y" if item.name in node.required else "N")
                emit(g, item)

    emit(ET.SubElement(root, "header"), header)
    emit(ET.SubElement(root, "trailer"), trailer)
    xml_messages = ET.SubElement(root, "messages")
    for msg in sorted(messages, key=lambda m: (len(m.msgtype), m.msgtype)):
        m = ET.SubElement(xml_messages, "message", name=msg.name, msgtype=msg.msgtype,
                          msgcat="admin" if msg.msgtype in ADMIN_TYPES else "app")
        emit(m, msg)
    ET.SubElement(root, "components")
    xml_fields = ET.SubElement(root, "fields")
    for name in sorted(used, key=lambda n: numbers[n]):
        f = ET.SubElement(xml_fields, "field", number=str(numbers[name]), name=name,
                          type=field_type(name, types, values))
        if name not in FREE_IN_FIX44:
            for value, desc in values.get(name, []):
                ET.SubElement(f, "value", enum=value, description=desc)
    return root


def merge_extension(root, ext_path):
    """Adds the exchange's fields, values and field placements."""
    ext = ET.parse(ext_path).getroot()
    fields = root.find("fields")
    by_name = {f.get("name"): f for f in fields}
    by_number = {f.get("number"): f for f in fields}
    for f in ext.find("fields"):
        name = f.get("name")
        if f.get("number") is not None:  # a new (user-defined) field
            if name in by_name or f.get("number") in by_number:
                sys.exit("%s: field %s (%s) is already standard" % (ext_path, name, f.get("number")))
            new = ET.SubElement(fields, "field", number=f.get("number"), name=name, type=f.get("type"))
            for v in f.findall("value"):
                ET.SubElement(new, "value", enum=v.get("enum"), description=v.get("description"))
            by_name[name] = new
        else:  # more values of a standard field
            if name not in by_name:
                sys.exit("%s: no standard field %s" % (ext_path, name))
            have = {v.get("enum") for v in by_name[name].findall("value")}
            for v in f.findall("value"):
                if v.get("enum") not in have:
                    ET.SubElement(by_name[name], "value", enum=v.get("enum"), description=v.get("description"))
    messages = {m.get("msgtype"): m for m in root.find("messages")}

    def place(target, additions, where):
        for item in additions:
            if item.tag == "field":
                if item.get("name") not in by_name:
                    sys.exit("%s: %s: undefined field %s" % (ext_path, where, item.get("name")))
                if any(c.tag == "field" and c.get("name") == item.get("name") for c in target):
                    sys.exit("%s: %s: %s is already there" % (ext_path, where, item.get("name")))
                ET.SubElement(target, "field", name=item.get("name"), required=item.get("required", "N"))
            elif item.tag == "group":
                group = next((c for c in target if c.tag == "group" and c.get("name") == item.get("name")), None)
                if group is None:
                    sys.exit("%s: %s: no group %s" % (ext_path, where, item.get("name")))
                place(group, item, where + "/" + item.get("name"))

    for m in ext.find("messages"):
        target = messages.get(m.get("msgtype"))
        if target is None:
            sys.exit("%s: no FIX 4.4 message %s" % (ext_path, m.get("msgtype")))
        place(target, m, m.get("msgtype"))
    # Numerically ordered fields, as in QuickFIX's own dictionaries.
    ordered = sorted(fields, key=lambda f: int(f.get("number")))
    for f in list(fields):
        fields.remove(f)
    fields.extend(ordered)
    return root


def write(root, path, comment):
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<!-- %s -->\n%s\n' % (comment, body))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--include", required=True, help="the directory holding quickfix/ (e.g. /usr/include)")
    ap.add_argument("--ext", required=True, help="the exchange's extension (gateway/haihe-fix44-ext.xml)")
    ap.add_argument("--standard", help="write the standard FIX 4.4 dictionary alone here")
    ap.add_argument("--out", required=True, help="write the exchange's dictionary here")
    args = ap.parse_args()
    inc = os.path.join(args.include, "quickfix")
    root = standard_dictionary(inc)
    if args.standard:
        write(root, args.standard, "FIX 4.4, generated by gateway/fix44_dictionary.py from QuickFIX's headers")
    merged = merge_extension(standard_dictionary(inc), args.ext)
    write(merged, args.out, "Haihe exchange: FIX 4.4 plus gateway/haihe-fix44-ext.xml, generated by "
                            "gateway/fix44_dictionary.py (gateway/README.md documents the messages)")


if __name__ == "__main__":
    main()
