// Module RxrayOutput: see DESIGN.md.
