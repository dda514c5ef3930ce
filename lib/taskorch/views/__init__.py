"""What `doit dashboard` and `doit serve` draw (issue 13), one idea per module: `board` reads the
project once into plain data, `attempts` turns the journal into attempt spans, `logtail` gives a
task's output escape-free, `dag` and `timeline` draw inline SVG, `page` holds the HTML template
and `dashboard` puts them together. Nothing here writes state or takes the heartbeat's lock.
"""
