#!/usr/bin/env python3
"""PyTorch prototype of the tiny ViT's pretraining objectives, for choosing one before building it in graphc.

The ViT of BLIP2Config.tiny (144 wide, 4 blocks, 8-pixel patches on 32x32) with the CLIP text tower of
PretrainModels.clip, trained N steps of 128 on the reference shapes set (DATA below); prints held-out text->image
R@1 and the shape-kind probe of probe_vit_shape.py on its tokens. Options (key=value):
  bow=W    bag-of-words prediction from the mean token (BCE), weight W (W=10: summed over the vocabulary)
  slot=W   the caption token at every position from all tokens laid end to end (what graphc adopted)
  pool=mean  contrastive embedding from the mean token instead of the class token
  shift=K  random roll of the batch by up to K pixels
Usage: SHAPES_DATA=DIR python Tools/vit_objective_prototype.py NAME STEPS [key=value ...]  (needs torch)
"""
import json,sys,time,math,zlib,struct,os,numpy as np,torch,torch.nn as nn,torch.nn.functional as F
torch.set_num_threads(2)
D=os.environ.get('SHAPES_DATA','refdata')
KINDS=["circle","square","triangle","cross"]
def readpng(p):
    b=open(p,'rb').read(); i=8; idat=b''
    while i<len(b):
        n=struct.unpack('>I',b[i:i+4])[0]; t=b[i+4:i+8]; d=b[i+8:i+8+n]; i+=12+n
        if t==b'IHDR': w,h=struct.unpack('>II',d[:8])
        if t==b'IDAT': idat+=d
    raw=np.frombuffer(zlib.decompress(idat),np.uint8).reshape(h,w*3+1)
    assert (raw[:,0]==0).all(); return raw[:,1:].reshape(h,w,3)
def load(split):
    cache=os.path.join(os.environ.get('TMPDIR', '/tmp'), f'shapes-{split}.npz')
    if os.path.exists(cache):
        z=np.load(cache,allow_pickle=True); return z['x'],list(z['c'])
    c=json.load(open(f'{D}/{split}/captions.json')); caps={a['image_id']:a['caption'] for a in c['annotations']}
    x=np.stack([readpng(f"{D}/{split}/images/{im['file_name']}") for im in c['images']]); cs=[caps[im['id']] for im in c['images']]
    np.savez(cache,x=x,c=np.array(cs,dtype=object)); return x,cs
xtr,ctr=load('train'); xva,cva=load('val')
mean=np.array([0.48145466,0.4578275,0.40821073],np.float32); std=np.array([0.26862954,0.26130258,0.27577711],np.float32)
def norm(x): return torch.tensor(((x.astype(np.float32)/255-mean)/std).transpose(0,3,1,2).copy())
Xtr,Xva=norm(xtr),norm(xva)
vocab=sorted({w for c in ctr for w in c.split()}); V=len(vocab)+3; wid={w:i+3 for i,w in enumerate(vocab)}  # 0 pad 1 cls 2 sep
T=16
def enc(cs):
    ids=torch.zeros(len(cs),T,dtype=torch.long)
    for i,c in enumerate(cs):
        s=[1]+[wid[w] for w in c.split()]+[2]; ids[i,:len(s)]=torch.tensor(s)
    return ids
Itr,Iva=enc(ctr),enc(cva)
bow_tr=torch.zeros(len(ctr),V)
for i,c in enumerate(ctr):
    for w in c.split(): bow_tr[i,wid[w]]=1
def kinds(cs): return [[KINDS.index(w) for w in c.split() if w in KINDS] for c in cs]
class Block(nn.Module):
    def __init__(s,d,h,m):
        super().__init__(); s.n1=nn.LayerNorm(d,eps=1e-6); s.att=nn.MultiheadAttention(d,h,batch_first=True); s.n2=nn.LayerNorm(d,eps=1e-6)
        s.mlp=nn.Sequential(nn.Linear(d,m),nn.GELU(),nn.Linear(m,d))
    def forward(s,x,mask=None):
        h=s.n1(x); x=x+s.att(h,h,h,key_padding_mask=mask,need_weights=False)[0]; return x+s.mlp(s.n2(x))
class ViT(nn.Module):
    def __init__(s,P=8,d=144,L=4,h=4,m=576):
        super().__init__(); s.pe=nn.Conv2d(3,d,P,P); n=(32//P)**2; s.cls=nn.Parameter(torch.randn(d)*0.02); s.pos=nn.Parameter(torch.randn(1,n+1,d)*0.02)
        s.blocks=nn.ModuleList([Block(d,h,m) for _ in range(L)]); s.post=nn.LayerNorm(d,eps=1e-6)
    def forward(s,x):
        x=s.pe(x).flatten(2).transpose(1,2); x=torch.cat([s.cls.expand(len(x),1,-1),x],1)+s.pos
        for b in s.blocks: x=b(x)
        return x  # features (pre post-LN)
class Text(nn.Module):
    def __init__(s,d=128):
        super().__init__(); s.emb=nn.Embedding(V,d); s.pos=nn.Parameter(torch.randn(1,T,d)*0.01); s.blocks=nn.ModuleList([Block(d,4,4*d) for _ in range(2)]); s.fn=nn.LayerNorm(d)
    def forward(s,ids):
        x=s.emb(ids)+s.pos; m=ids==0
        for b in s.blocks: x=b(x,m)
        return s.fn(x)[:,0]
def run(name,steps,bow=0.0,slot=0.0,pool='cls',shift=0,P=8,seed=0):
    torch.manual_seed(seed); vit=ViT(P); txt=Text(); vp=nn.Linear(144,64,bias=False); tp=nn.Linear(128,64,bias=False); ls=nn.Parameter(torch.tensor(2.6593))
    bowh=nn.Linear(144,V); sloth=nn.Linear(144*17,T*V)
    ps=list(vit.parameters())+list(txt.parameters())+list(vp.parameters())+list(tp.parameters())+[ls]+list(bowh.parameters())+list(sloth.parameters())
    opt=torch.optim.AdamW(ps,1e-3,weight_decay=0.05)
    g=torch.Generator().manual_seed(seed); t0=time.time()
    for st in range(steps):
        lr=1e-3*min(1,(st+1)/100) if st<100 else 1e-5+0.5*(1e-3-1e-5)*(1+math.cos(math.pi*(st-100)/max(1,steps-100)))
        for q in opt.param_groups: q['lr']=lr
        idx=torch.randint(0,len(Xtr),(128,),generator=g); x=Xtr[idx]
        if shift:
            dx,dy=torch.randint(-shift,shift+1,(2,),generator=g).tolist(); x=torch.roll(x,(dy,dx),(2,3))
        f=vit(x); fo=vit.post(f)
        pooled=fo[:,0] if pool=='cls' else fo.mean(1)
        ie=F.normalize(vp(pooled),dim=-1); te=F.normalize(tp(txt(Itr[idx])),dim=-1)
        lg=ie@te.T*ls.exp(); y=torch.arange(128)
        loss=0.5*(F.cross_entropy(lg,y)+F.cross_entropy(lg.T,y))
        if bow: loss=loss+bow*F.binary_cross_entropy_with_logits(bowh(fo.mean(1)),bow_tr[idx])*V/10
        if slot:
            tgt=Itr[idx].clone(); tgt[tgt==0]=-100
            loss=loss+slot*F.cross_entropy(sloth(fo.flatten(1)).reshape(-1,V),tgt.reshape(-1),ignore_index=-100)
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(ps,1.0); opt.step()
        if st%500==0: print(name,st,f"{loss.item():.3f}",f"{time.time()-t0:.0f}s",flush=True)
    with torch.no_grad():
        vit.eval(); fv=torch.cat([vit(Xva[i:i+500]) for i in range(0,1000,500)]); ftr=torch.cat([vit(Xtr[i:i+1000]) for i in range(0,20000,1000)])
        fo=vit.post(fv); pooled=fo[:,0] if pool=='cls' else fo.mean(1)
        ie=F.normalize(vp(pooled),dim=-1); te=F.normalize(tp(txt(Iva)),dim=-1); s=te@ie.T
        r1=(s.argmax(1)==torch.arange(1000)).float().mean().item()
    acc=probe(ftr,fv)
    print(f"RESULT {name} steps={steps} time={time.time()-t0:.0f}s t2i_r1={r1*100:.1f} probe_shape={acc*100:.1f}",flush=True)
def probe(ftr,fva):
    Xa,Xb=ftr.reshape(len(ftr),-1),fva.reshape(len(fva),-1); mu,sd=Xa.mean(0),Xa.std(0)+1e-5; Xa=(Xa-mu)/sd; Xb=(Xb-mu)/sd
    def tg(y): return torch.tensor([a[0] for a in y]), torch.tensor([a[1] if len(a)>1 else 4 for a in y])
    t1,t2=tg(kinds(ctr)); e1,e2=tg(kinds(cva))
    torch.manual_seed(0); m=nn.Sequential(nn.Linear(Xa.shape[1],512),nn.GELU(),nn.Linear(512,9)); opt=torch.optim.AdamW(m.parameters(),1e-3,weight_decay=0.05)
    for ep in range(15):
        perm=torch.randperm(len(Xa))
        for i in range(0,len(Xa),256):
            b=perm[i:i+256]; o=m(Xa[b]); l=F.cross_entropy(o[:,:4],t1[b])+F.cross_entropy(o[:,4:],t2[b]); opt.zero_grad(); l.backward(); opt.step()
    with torch.no_grad():
        o=m(Xb); p1=o[:,:4].argmax(1); p2=o[:,4:].argmax(1); two=e2<4
        return ((p1==e1).sum()+((p2==e2)&two).sum()).item()/(len(e1)+two.sum().item())
if __name__=='__main__':
    import ast
    kw=dict(a.split('=') for a in sys.argv[3:]); kw={k:ast.literal_eval(v) if k!='pool' else v for k,v in kw.items()}
    run(sys.argv[1],int(sys.argv[2]),**kw)
