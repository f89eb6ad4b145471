// Module RxrayStack: see DESIGN.md.
