print("blip2-train")
