// Module RxrayHost: see DESIGN.md.
