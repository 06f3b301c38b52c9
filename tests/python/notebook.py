"""Plotly's streaming notebooks, run unchanged against `plotstream serve`.

Usage: python3 notebook.py PORT

Only the configuration differs from Plotly's own notebooks: the domains
point at the viewer, any username and api_key do, and chart_studio 1.1.0's
hard-coded streaming port 80 is set to the viewer's. The test runs it with
HOME in a temporary directory (chart_studio writes ~/.plotly) and BROWSER
set to `true` (py.plot opens the plot's page by default).

It prints the URLs it got, as JSON, for the test to check.
"""

import json
import sys

import chart_studio.plotly as py
import chart_studio.tools as tls
import plotly.graph_objs as go
from plotly.graph_objs import Data, Scatter

port = int(sys.argv[1])
viewer = "http://127.0.0.1:{}".format(port)

# The configuration: the only lines that differ from Plotly's notebooks.
tls.set_config_file(
    plotly_domain=viewer, plotly_api_domain=viewer, plotly_streaming_domain=viewer
)
tls.set_credentials_file(
    username="alice", api_key="anything", stream_ids=["quick-token", "tutorial-token"]
)
py.Stream.HTTP_PORT = port

# Plotly's quickstart.
quick_url = py.plot(Data([Scatter(x=[], y=[], stream=dict(token="quick-token"))]))
s = py.Stream("quick-token")
s.open()
s.write(dict(x=1, y=2))
s.close()

# Plotly's streaming tutorial (abridged), with maxpoints 80 and its title.
stream_ids = tls.get_credentials_file()["stream_ids"]
stream_1 = go.Stream(token=stream_ids[1], maxpoints=80)  # keep 80 points on screen
trace1 = go.Scatter(x=[], y=[], mode="lines+markers", stream=stream_1)
fig = go.Figure(data=[trace1], layout=go.Layout(title="Time Series"))
tutorial_url = py.plot(fig, filename="python-streaming")

# Plotting again under the same filename updates the same figure.
again_url = py.plot(fig, filename="python-streaming")

s = py.Stream(stream_ids[1])
s.open()
for i in range(200):
    s.write(dict(x=i, y=i * i))
s.close()

print(
    json.dumps(
        {
            "quick": quick_url,
            "tutorial": tutorial_url,
            "again": again_url,
            "embed": tls.get_embed(tutorial_url),
        }
    )
)
