"""xspf_title.py FILE: the title of an XSPF playlist's first track, as a real
XML parser reads it (test/features.sh)."""
import sys
import xml.etree.ElementTree as E

ns = {"x": "http://xspf.org/ns/0/"}
print(E.parse(sys.argv[1]).getroot().find("x:trackList/x:track/x:title", ns).text)
