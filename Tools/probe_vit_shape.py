#!/usr/bin/env python3
"""Does a frozen ViT's cached feature map carry shape kind? An MLP probe on the reference shapes set.

Reads a run's frozen/features.safetensors (train [N, tokens, width] and held_out, written by blip2-train) and the
data folder's train/ and val/ captions.json, fits a one-hidden-layer MLP on the flattened tokens to name the
first shape's kind (4-way) and the second shape's kind (or none), and prints train and held-out accuracy over
all shapes named in the captions. Used to find where shape kind is lost (Docs/Training.md, "Shape kind").

Needs torch (pip install torch==2.13.0 in a virtual environment, as for the fixture generators):
  python Tools/probe_vit_shape.py runs/ref/frozen/features.safetensors DATA [flat|cls|mean]
"""
import json,struct,sys,numpy as np,torch
torch.set_num_threads(2)
feat=sys.argv[1]; data=sys.argv[2]
f=open(feat,'rb'); n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n)); base=8+n
def load(k):
    s,e=h[k]['data_offsets']; f.seek(base+s); return np.frombuffer(f.read(e-s),np.float32).reshape(h[k]['shape'])
KINDS=["circle","square","triangle","cross"]
def labels(split):
    c=json.load(open(f"{data}/{split}/captions.json"))
    caps={a['image_id']:a['caption'] for a in c['annotations']}
    out=[]
    for im in c['images']:
        w=caps[im['id']].split(); ks=[KINDS.index(x) for x in w if x in KINDS]
        out.append(ks)
    return out
Xtr,Xte=load('train'),load('held_out'); ytr,yte=labels('train'),labels('val')
mode=sys.argv[3] if len(sys.argv)>3 else 'flat'
def prep(X):
    X=torch.tensor(X)
    if mode=='cls': X=X[:,0]
    elif mode=='mean': X=X[:,1:].mean(1)
    else: X=X.reshape(len(X),-1)
    return X
Xtr,Xte=prep(Xtr),prep(Xte)
mu,sd=Xtr.mean(0),Xtr.std(0)+1e-5; Xtr=(Xtr-mu)/sd; Xte=(Xte-mu)/sd
# targets: first shape kind (4) and second shape kind (5 incl none)
def tg(y): return torch.tensor([a[0] for a in y]), torch.tensor([a[1] if len(a)>1 else 4 for a in y])
t1,t2=tg(ytr); e1,e2=tg(yte)
for hidden in [0,512]:
    torch.manual_seed(0)
    if hidden: m=torch.nn.Sequential(torch.nn.Linear(Xtr.shape[1],hidden),torch.nn.GELU(),torch.nn.Linear(hidden,9))
    else: m=torch.nn.Linear(Xtr.shape[1],9)
    opt=torch.optim.AdamW(m.parameters(),1e-3,weight_decay=0.05)
    for ep in range(30):
        perm=torch.randperm(len(Xtr))
        for i in range(0,len(Xtr),256):
            b=perm[i:i+256]; o=m(Xtr[b]); l=torch.nn.functional.cross_entropy(o[:,:4],t1[b])+torch.nn.functional.cross_entropy(o[:,4:],t2[b])
            opt.zero_grad(); l.backward(); opt.step()
    with torch.no_grad():
        for nm,X,a,b in [('train',Xtr,t1,t2),('val',Xte,e1,e2)]:
            o=m(X); p1=o[:,:4].argmax(1); p2=o[:,4:].argmax(1)
            two=b<4
            acc=((p1==a).sum()+((p2==b)&two).sum()).item()/(len(a)+two.sum().item())
            print(f"{mode} hidden={hidden} {nm}: shape acc {acc*100:.1f}% (first {((p1==a).float().mean()*100):.1f}%)")
