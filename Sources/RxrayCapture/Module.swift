// Module RxrayCapture: see DESIGN.md.
