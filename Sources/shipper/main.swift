print("shipper")
