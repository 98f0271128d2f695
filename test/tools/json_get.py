"""json_get.py FILE EXPR: prints the value of the Python expression EXPR
over a JSON document read from FILE ("-": standard input) with Python's
json, the parser dashboards use. EXPR sees

  d            the document
  s            d["icestats"]["source"], for the status URL's document: one
               source as an object, several as a list (Icecast's shape)
  stream(P)    the source whose listenurl ends with P

Prints "INVALID <why>" when the document does not parse or EXPR fails, so
that a caller's comparison fails, naming why; exits 0 either way."""
import json
import sys


def main():
    path, expr = sys.argv[1], sys.argv[2]
    try:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8")
        d = json.load(f)
    except Exception as e:  # a test's finding, not a crash
        print("INVALID", e)
        return
    s = d.get("icestats", {}).get("source") if isinstance(d, dict) else None

    def stream(p):
        srcs = [s] if isinstance(s, dict) else s or []
        return [x for x in srcs if x["listenurl"].endswith(p)][0]

    try:
        print(eval(expr, {"d": d, "s": s, "stream": stream}))
    except Exception as e:
        print("INVALID", repr(e))


main()
