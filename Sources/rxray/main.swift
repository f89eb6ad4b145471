print("rxray")
